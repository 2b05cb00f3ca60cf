{{ month_incremental_config() }}  {#- macros/ml/ml_frames.sql -#}
{%- set measures = ['billed_amount', 'paid_amount', 'arrears_amount'] -%}
with

spine as (
    select subscriber_id, month from {{ ref('int_subscriber_months') }}
    where {{ window_input_months_filter('month', 2) }}
),

billing as (
    select * from {{ ref('stg_telco__billing_monthly') }}
    where {{ window_input_months_filter('month', 2) }}
),

joined as (
    select
        {%- for measure in measures %}
        billing.{{ measure }},
        {%- endfor %}
        billing.package_id,
        spine.subscriber_id,
        spine.month
    from spine
    left join billing
        on
            spine.subscriber_id = billing.subscriber_id
            and spine.month = billing.month
),

final as (
    select
        subscriber_id,
        month,
        package_id,
        {%- for measure in measures %}
        {{ measure }},
        {{ window_features(measure, 'subscriber_id', 'month') }},
        {%- endfor %}
        case
            when lag(package_id) over (partition by subscriber_id order by month) is null then 0
            when lag(package_id) over (partition by subscriber_id order by month) <> package_id
                then 1
            else 0
        end as package_changed,
        {{ safe_divide('paid_amount', 'billed_amount') }} as payment_ratio
    from joined
)

select * from final
where {{ incremental_months_filter('month') }}
