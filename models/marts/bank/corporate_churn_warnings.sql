-- Corporate churn warnings: the customers of the churn model's latest scored month whose
-- score reaches the registry threshold, with the top three reasons (each with the
-- customer's value and its contribution in the model's units). The model is the
-- enabled registry model of scenario corporate_churn in domain bank (ml_registry_model,
-- whatever var domain says); without one the mart is empty.
-- BI reads it: customers appear by pseudonymous key and masked display (docs/privacy.md).
with

scores as (
    {{ latest_positive_scores('corporate_churn', domain='bank') }}
),

final as (
    select
        {{ pseudonymize('entity_id') }} as customer_key,
        {{ mask_identifier('entity_id') }} as customer_masked,
        score_month,
        score,
        reason_1,
        reason_1_value,
        reason_1_contribution,
        reason_2,
        reason_2_value,
        reason_2_contribution,
        reason_3,
        reason_3_value,
        reason_3_contribution,
        model_version
    from scores
)

select * from final
