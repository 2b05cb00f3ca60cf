with

source as (
    select * from {{ source('telco', 'status_events') }}
),

final as (
    select
        subscriber_id,
        event_date,
        {{ month_of('event_date') }} as event_month,
        event_type,
        reason
    from source
)

select * from final
where {{ not_erased('subscriber_id') }}
