-- PSI of every numeric wide-table column, each month against the previous month,
-- with its band: stable < 0.10 <= warn <= 0.25 < error (DESIGN.md).
{%- set wide = ref('subscriber_month_wide') %}
with

psi as (
    {{ psi_query(wide, columns_of_kind(wide, 'numeric', exclude=['subscriber_id'])) }}
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
