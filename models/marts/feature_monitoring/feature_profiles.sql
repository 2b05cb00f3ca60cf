-- Column profiles ("table exam") of the wide table, every column, every month.
with

profiles as (
    {{ profile_query(ref('subscriber_month_wide'), 'month', exclude=['subscriber_id']) }}
),

final as (
    select * from profiles
)

select * from final
