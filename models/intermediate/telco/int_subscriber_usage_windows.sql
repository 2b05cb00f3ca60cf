{{ month_incremental_config() }}  {#- macros/ml/ml_frames.sql -#}
{%- set measures = ['voice_minutes', 'offnet_voice_minutes', 'data_mb', 'sms_count',
                    'roaming_minutes', 'days_active'] -%}
with

spine as (
    select subscriber_id, month from {{ ref('int_subscriber_months') }}
    where {{ window_input_months_filter('month', 2) }}
),

usage as (
    select * from {{ ref('stg_telco__usage_monthly') }}
    where {{ window_input_months_filter('month', 2) }}
),

joined as (
    select
        {%- for measure in measures %}
        usage.{{ measure }},
        {%- endfor %}
        spine.subscriber_id,
        spine.month
    from spine
    left join usage
        on
            spine.subscriber_id = usage.subscriber_id
            and spine.month = usage.month
),

final as (
    select
        subscriber_id,
        month,
        {%- for measure in measures %}
        {{ measure }},
        {{ window_features(measure, 'subscriber_id', 'month') }},
        {%- endfor %}
        {{ safe_divide('offnet_voice_minutes', 'voice_minutes') }} as offnet_share
    from joined
)

select * from final
where {{ incremental_months_filter('month') }}
