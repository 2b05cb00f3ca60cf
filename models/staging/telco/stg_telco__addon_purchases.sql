with

source as (
    select * from {{ source('telco', 'addon_purchases') }}
),

final as (
    select
        purchase_id,
        subscriber_id,
        purchased_at,
        {{ month_of('purchased_at') }} as purchase_month,
        addon_code,
        addon_data_mb,
        price
    from source
)

select * from final
where {{ not_erased('subscriber_id') }}
