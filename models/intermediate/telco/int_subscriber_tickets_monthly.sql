{{ month_incremental_config() }}  {#- macros/ml/ml_frames.sql -#}
with

spine as (
    select subscriber_id, month from {{ ref('int_subscriber_months') }}
    where {{ window_input_months_filter('month', 2) }}
),

tickets as (
    select * from {{ ref('stg_telco__tickets') }}
    where {{ window_input_months_filter('opened_month', 2) }}
),

monthly as (
    select
        subscriber_id,
        opened_month as month,
        count(*) as tickets,
        {{ count_where('is_network_issue') }} as network_tickets,
        {{ count_where('is_unresolved_at_month_end') }} as unresolved_tickets
    from tickets
    group by subscriber_id, opened_month
),

joined as (
    select
        spine.subscriber_id,
        spine.month,
        coalesce(monthly.tickets, 0) as tickets,
        coalesce(monthly.network_tickets, 0) as network_tickets,
        coalesce(monthly.unresolved_tickets, 0) as unresolved_tickets
    from spine
    left join monthly
        on
            spine.subscriber_id = monthly.subscriber_id
            and spine.month = monthly.month
),

final as (
    select
        subscriber_id,
        month,
        tickets,
        network_tickets,
        unresolved_tickets,
        cast(sum(tickets) over (
            partition by subscriber_id order by month rows between 2 preceding and current row
        ) as {{ dbt.type_bigint() }}) as tickets_3m,
        cast(sum(network_tickets) over (
            partition by subscriber_id order by month rows between 2 preceding and current row
        ) as {{ dbt.type_bigint() }}) as network_tickets_3m
    from joined
)

select * from final
where {{ incremental_months_filter('month') }}
