-- The months the warehouse holds, from the billing feed (every active subscriber is billed).
with

billing as (
    select * from {{ ref('stg_telco__billing_monthly') }}
),

final as (
    select distinct month
    from billing
)

select * from final
