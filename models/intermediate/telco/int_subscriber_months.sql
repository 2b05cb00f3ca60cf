-- Gap-free spine: one row per subscriber and calendar month in which the subscriber was
-- active at least one day. Window features run over this spine, so a month without usage
-- is a null, never a silently skipped row.
with

subscribers as (
    select subscriber_id, activation_date, contract_end_date
    from {{ ref('stg_telco__subscribers') }}
),

deactivations as (
    select
        subscriber_id,
        min(event_date) as deactivation_date,
        min(reason) as deactivation_reason
    from {{ ref('stg_telco__status_events') }}
    where event_type = 'deactivated'
    group by subscriber_id
),

calendar as (
    select month from {{ ref('int_calendar_months') }}
),

final as (
    select
        subscribers.subscriber_id,
        calendar.month,
        subscribers.activation_date,
        subscribers.contract_end_date,
        deactivations.deactivation_date,
        deactivations.deactivation_reason,
        coalesce(
            deactivations.deactivation_date < {{ add_months('calendar.month', 1) }}, false
        ) as is_deactivated_in_month
    from subscribers
    cross join calendar
    left join deactivations
        on subscribers.subscriber_id = deactivations.subscriber_id
    where
        subscribers.activation_date < {{ add_months('calendar.month', 1) }}
        and (
            deactivations.deactivation_date is null
            or deactivations.deactivation_date >= calendar.month
        )
)

select * from final
