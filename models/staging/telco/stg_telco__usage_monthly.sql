with

source as (
    select * from {{ source('telco', 'usage_monthly') }}
),

final as (
    select
        subscriber_id,
        usage_month as month,
        voice_minutes,
        offnet_voice_minutes,
        data_mb,
        sms_count,
        roaming_minutes,
        days_active
    from source
)

select * from final
where {{ not_erased('subscriber_id') }}
