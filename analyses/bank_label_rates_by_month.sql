-- Ad-hoc check of the bank labels: per month the customers, the churn and potential rates
-- and how many labels are undefined (null inputs). dbt compile --select
-- bank_label_rates_by_month, then run target/compiled/... in any client.
with

churn as (
    select * from {{ ref('target_corporate_churn') }}
),

potential as (
    select * from {{ ref('target_corporate_potential') }}
),

final as (
    select
        churn.month,
        count(*) as customers,
        avg(churn.churned) as churn_rate,
        sum(case when churn.churned is null then 1 else 0 end) as churn_undefined,
        avg(potential.is_potential) as potential_rate,
        sum(case when potential.is_potential is null then 1 else 0 end) as potential_undefined
    from churn
    inner join potential
        on
            churn.customer_id = potential.customer_id
            and churn.month = potential.month
    group by churn.month
)

select * from final
order by month
