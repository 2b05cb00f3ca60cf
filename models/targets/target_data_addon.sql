-- Data-pack recommendation label. For a subscriber active at the end of month m:
-- `bought_addon` = 1 when it buys at least one data add-on during m+1, else 0 (a
-- subscriber deactivated during m+1 counts by what it bought before leaving).
with

population as (
    select subscriber_id, month
    from {{ ref('int_subscriber_months') }}
    where not is_deactivated_in_month
),

addons as (
    select subscriber_id, month, addon_purchases
    from {{ ref('int_subscriber_addons_monthly') }}
),

calendar as (
    select month from {{ ref('int_calendar_months') }}
),

final as (
    select
        population.subscriber_id,
        population.month,
        calendar.month as label_month,
        case when next_month.addon_purchases > 0 then 1 else 0 end as bought_addon,
        next_month.addon_purchases as next_month_addon_purchases
    from population
    inner join calendar
        on calendar.month = {{ add_months('population.month', 1) }}
    inner join addons as next_month
        on
            population.subscriber_id = next_month.subscriber_id
            and calendar.month = next_month.month
)

select * from final
