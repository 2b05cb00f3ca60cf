with

source as (
    select * from {{ source('telco', 'subscribers') }}
),

final as (
    select
        subscriber_id,
        activation_date,
        age_band,
        gender,
        region,
        sales_channel,
        contract_type,
        contract_end_date,
        initial_package_id
    from source
)

select * from final
where {{ not_erased('subscriber_id') }}
