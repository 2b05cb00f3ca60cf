{{ month_incremental_config() }}  {#- macros/ml/ml_frames.sql -#}
with

spine as (
    select subscriber_id, month from {{ ref('int_subscriber_months') }}
    where {{ window_input_months_filter('month', 2) }}
),

purchases as (
    select * from {{ ref('stg_telco__addon_purchases') }}
    where {{ window_input_months_filter('purchase_month', 2) }}
),

monthly as (
    select
        subscriber_id,
        purchase_month as month,
        count(*) as addon_purchases,
        cast(sum(addon_data_mb) as {{ dbt.type_bigint() }}) as addon_data_mb,
        sum(price) as addon_spend
    from purchases
    group by subscriber_id, purchase_month
),

joined as (
    select
        spine.subscriber_id,
        spine.month,
        coalesce(monthly.addon_purchases, 0) as addon_purchases,
        coalesce(monthly.addon_data_mb, 0) as addon_data_mb,
        coalesce(monthly.addon_spend, 0) as addon_spend
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
        addon_purchases,
        addon_data_mb,
        addon_spend,
        cast(sum(addon_purchases) over (
            partition by subscriber_id order by month rows between 2 preceding and current row
        ) as {{ dbt.type_bigint() }}) as addon_purchases_3m
    from joined
)

select * from final
where {{ incremental_months_filter('month') }}
