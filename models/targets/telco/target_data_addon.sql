-- Data-pack recommendation label. For a subscriber active at the end of month m:
-- `bought_addon` = 1 when it buys at least one data add-on during m+1, else 0 (a
-- subscriber deactivated during m+1 counts by what it bought before leaving).
with

population as (
    select * from {{ ref('int_subscriber_label_months') }}
),

addons as (
    select subscriber_id, month, addon_purchases
    from {{ ref('int_subscriber_addons_monthly') }}
),

final as (
    select
        population.subscriber_id,
        population.month,
        population.label_month,
        case when next_month.addon_purchases > 0 then 1 else 0 end as bought_addon,
        next_month.addon_purchases as next_month_addon_purchases
    from population
    inner join addons as next_month
        on
            population.subscriber_id = next_month.subscriber_id
            and population.label_month = next_month.month
)

select * from final
