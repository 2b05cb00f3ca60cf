-- Churn label: a subscriber active at the end of month m is churned (1) when it is
-- deactivated (any reason) during month m+1. Months whose next month is not yet in the
-- warehouse have no label and no row.
with

population as (
    select * from {{ ref('int_subscriber_label_months') }}
),

next_month as (
    select subscriber_id, month, is_deactivated_in_month, deactivation_reason
    from {{ ref('int_subscriber_months') }}
),

final as (
    select
        population.subscriber_id,
        population.month,
        population.label_month,
        case when next_month.is_deactivated_in_month then 1 else 0 end as churned,
        case
            when next_month.is_deactivated_in_month then next_month.deactivation_reason
        end as churn_reason
    from population
    inner join next_month
        on
            population.subscriber_id = next_month.subscriber_id
            and population.label_month = next_month.month
)

select * from final
