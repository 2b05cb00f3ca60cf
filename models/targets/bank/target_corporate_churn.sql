-- Corporate churn warning label of month m, from m's own asset figures:
-- churned = 1 when this month's daily average of financial assets fell by MORE than 50 %
-- against the average of the previous three months
--   (financial_assets_avg_daily < 0.5 * financial_assets_avg_daily_3m);
-- 0 otherwise, also for a drop of exactly 50 %; null when either input is null or the
-- three-month average is not positive (nothing to fall from). Rows with a null label stay
-- here and are not in the training set.
with

features as (
    select * from {{ ref('corporate_month_features') }}
),

final as (
    select
        customer_id,
        month,
        financial_assets_avg_daily,
        financial_assets_avg_daily_3m,
        case
            when
                financial_assets_avg_daily is null
                or financial_assets_avg_daily_3m is null
                or financial_assets_avg_daily_3m <= 0
                then null
            when financial_assets_avg_daily < 0.5 * financial_assets_avg_daily_3m then 1
            else 0
        end as churned
    from features
)

select * from final
