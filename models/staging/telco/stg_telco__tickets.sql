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
        -- as of the end of the month it was opened in, not as of the extract date: a
        -- ticket resolved later was still open then (no knowledge from the future)
        coalesce(
            resolved_at >= {{ add_months(month_of('opened_at'), 1) }}, true
        ) as is_unresolved_at_month_end
    from source
)

select * from final
where {{ not_erased('subscriber_id') }}
