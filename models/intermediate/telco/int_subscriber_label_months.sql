-- The population every telco scenario labels: subscribers active at the end of month m
-- whose next month m+1 (`label_month`, where the label is observed) is in the warehouse.
with

population as (
    select subscriber_id, month
    from {{ ref('int_subscriber_months') }}
    where not is_deactivated_in_month
),

calendar as (
    select month from {{ ref('int_calendar_months') }}
),

final as (
    select
        population.subscriber_id,
        population.month,
        calendar.month as label_month
    from population
    inner join calendar
        on calendar.month = {{ add_months('population.month', 1) }}
)

select * from final
