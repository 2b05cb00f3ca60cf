{%- set measures = ['data_mb', 'voice_minutes', 'billed_amount'] -%}
-- Package-group feature table: per package group and month, the group's size and the
-- average and quartiles of usage and ARPU (billed_amount) over the subscribers active at
-- the end of the month. The wide table positions each subscriber against its group.
with

population as (
    select subscriber_id, month
    from {{ ref('int_subscriber_months') }}
    where not is_deactivated_in_month
),

billing as (
    select subscriber_id, month, package_id, billed_amount
    from {{ ref('int_subscriber_billing_windows') }}
),

usage as (
    select subscriber_id, month, data_mb, voice_minutes
    from {{ ref('int_subscriber_usage_windows') }}
),

packages as (
    select package_id, package_group from {{ ref('stg_telco__packages') }}
),

members as (
    select
        population.month,
        packages.package_group,
        usage.data_mb,
        usage.voice_minutes,
        billing.billed_amount
    from population
    inner join billing
        on
            population.subscriber_id = billing.subscriber_id
            and population.month = billing.month
    inner join packages on billing.package_id = packages.package_id
    left join usage
        on
            population.subscriber_id = usage.subscriber_id
            and population.month = usage.month
),

aggregated as (
    select
        package_group,
        month,
        {%- for measure in measures %}
        avg({{ measure }}) as group_avg_{{ measure }},
        {{ quantiles(measure, [0.25, 0.5, 0.75]) }} as {{ measure }}_quartiles,
        {%- endfor %}
        count(*) as group_subscribers
    from members
    group by package_group, month
),

final as (
    select
        package_group,
        month,
        {%- for measure in measures %}
        group_avg_{{ measure }},
        {{ array_element(measure ~ '_quartiles', 1) }} as group_p25_{{ measure }},
        {{ array_element(measure ~ '_quartiles', 2) }} as group_p50_{{ measure }},
        {{ array_element(measure ~ '_quartiles', 3) }} as group_p75_{{ measure }},
        {%- endfor %}
        group_subscribers
    from aggregated
)

select * from final
