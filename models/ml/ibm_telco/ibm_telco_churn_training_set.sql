-- Training set of the IBM Telco model: every customer with its label and a split. A
-- snapshot has no out-of-time month; the registry entry evaluates it by 5-fold
-- cross-validation instead (out_of_time: false, cv_folds: 5).
with

features as (
    select * from {{ ref('ibm_telco_customer_features') }}
),

final as (
    select
        *,
        case
            when {{ hash_bucket('customer_id', 100) }} < {{ var('test_share') * 100 }} then 'test'
            else 'train'
        end as split
    from features
)

select * from final
