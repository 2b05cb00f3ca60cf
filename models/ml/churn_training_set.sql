-- Churn training frame: wide-table features of month m with the label of month m+1, for
-- every month whose label has matured by the score month. `split`: the month just before
-- the score month is the out-of-time test ('oot'); other months are split in-time by a
-- stable hash of the subscriber id ('train' / 'test'), so a subscriber never sits on
-- both sides. The registry's train_months picks how many in-time months a model uses.
with

wide as (
    select * from {{ ref('subscriber_month_wide') }}
),

target as (
    select subscriber_id, month, label_month, churned
    from {{ ref('target_churn') }}
),

score_month as (
    select {{ score_month(ref('int_calendar_months')) }} as month
),

final as (
    select
        wide.*,
        target.churned,
        case
            when target.label_month = score_month.month then 'oot'
            when
                {{ hash_bucket('wide.subscriber_id', 100) }} < {{ (var('test_share') * 100) | int }}
                then 'test'
            else 'train'
        end as split
    from wide
    inner join target
        on
            wide.subscriber_id = target.subscriber_id
            and wide.month = target.month
    cross join score_month
    where target.label_month <= score_month.month
)

select * from final
