{{ month_incremental_config('current_month') }}  {#- macros/ml/ml_frames.sql -#}
-- PSI of every numeric wide-table column, each month against the previous month,
-- with its band: stable <= 0.10 < warn <= 0.25 < error.
-- Incremental by current month (see monitoring_months_filter).
{%- set wide = ref('subscriber_month_wide') %}
with

psi as (
    {{ psi_query(
        wide,
        columns_of_kind(wide, 'numeric', exclude=['subscriber_id']),
        current_condition=monitoring_months_filter('psi_month', 'current_month', wide),
    ) }}
),

final as (
    select
        *,
        case
            when psi > 0.25 then 'error'
            when psi > 0.1 then 'warn'
            else 'stable'
        end as psi_band
    from psi
)

select * from final
