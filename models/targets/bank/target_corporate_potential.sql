-- Potential (high-value) corporate customer label of month m:
-- is_potential = 1 when avg_monthly_txn_count > 3 or avg_monthly_txn_amount > 3,000,000
-- yuan (exactly 3 transactions or exactly 3,000,000 is not enough: 0); 0 when both are at
-- or below their limit; null (SQL three-valued logic) when neither is above its limit and
-- one of them is null. Rows with a null label stay here and are not in the training set.
with

features as (
    select * from {{ ref('corporate_month_features') }}
),

final as (
    select
        customer_id,
        month,
        avg_monthly_txn_count,
        avg_monthly_txn_amount,
        case
            when avg_monthly_txn_count > 3 or avg_monthly_txn_amount > 3000000 then 1
            when avg_monthly_txn_count <= 3 and avg_monthly_txn_amount <= 3000000 then 0
        end as is_potential
    from features
)

select * from final
