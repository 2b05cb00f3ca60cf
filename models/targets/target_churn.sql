-- Churn label: a subscriber active at the end of month m is churned (1) when it is
-- deactivated (any reason) during month m+1. Months whose next month is not yet in the
-- warehouse have no label and no row.
with

population as (
    select subscriber_id, month
    from {{ ref('int_subscriber_months') }}
    where not is_deactivated_in_month
),

next_month as (
    select subscriber_id, month, is_deactivated_in_month, deactivation_reason
    from {{ ref('int_subscriber_months') }}
),

calendar as (
    select month from {{ ref('int_calendar_months') }}
),

final as (
    select
        population.subscriber_id,
        population.month,
        calendar.month as label_month,
        case when next_month.is_deactivated_in_month then 1 else 0 end as churned,
        case
            when next_month.is_deactivated_in_month then next_month.deactivation_reason
        end as churn_reason
    from population
    inner join calendar
        on calendar.month = {{ add_months('population.month', 1) }}
    inner join next_month
        on
            population.subscriber_id = next_month.subscriber_id
            and calendar.month = next_month.month
)

select * from final
