with

source as (
    select * from {{ source('telco', 'packages') }}
),

final as (
    select
        package_id,
        package_name,
        package_group,
        cast(monthly_fee as {{ type_double() }}) as monthly_fee,
        data_allowance_mb,
        voice_allowance_min
    from source
)

select * from final
