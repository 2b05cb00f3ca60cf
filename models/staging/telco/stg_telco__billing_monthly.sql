with

source as (
    select * from {{ source('telco', 'billing_monthly') }}
),

final as (
    select
        subscriber_id,
        bill_month as month,
        package_id,
        billed_amount,
        paid_amount,
        arrears_amount
    from source
)

select * from final
where {{ not_erased('subscriber_id') }}
