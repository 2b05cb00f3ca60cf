with

source as (
    select * from {{ source('telco', 'tickets') }}
),

final as (
    select
        ticket_id,
        subscriber_id,
        opened_at,
        {{ month_of('opened_at') }} as opened_month,
        category,
        category in ('network_coverage', 'data_speed') as is_network_issue,
        resolved_at,
        resolved_at is null as is_unresolved
    from source
)

select * from final
