-- Ad-hoc check of the churn label: monthly rate and reason mix.
-- dbt compile --select churn_rate_by_month, then run target/compiled/... in any client.
with

target as (
    select * from {{ ref('target_churn') }}
),

final as (
    select
        month,
        count(*) as subscribers,
        avg(churned) as churn_rate,
        sum(case when churn_reason = 'port_out' then 1 else 0 end) as port_outs,
        sum(case when churn_reason = 'voluntary' then 1 else 0 end) as voluntary,
        sum(case when churn_reason = 'non_payment' then 1 else 0 end) as non_payment
    from target
    group by month
)

select * from final
order by month
