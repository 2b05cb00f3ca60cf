{{ month_incremental_config() }}  {#- macros/ml/ml_frames.sql -#}
-- Column profiles ("table exam") of the wide table, every column, by month.
-- Incremental by month (see monitoring_months_filter).
{%- set wide = ref('subscriber_month_wide') %}
with

profiles as (
    {{ profile_query(wide, 'month', exclude=['subscriber_id'],
                     where=monitoring_months_filter('month', 'month', wide)) }}
),

final as (
    select * from profiles
)

select * from final
