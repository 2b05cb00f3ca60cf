-- Corporate churn warnings: the customers of the churn model's latest scored month whose
-- score reaches the registry threshold, with the top three reasons. The model is the
-- enabled registry model of scenario corporate_churn in domain bank (ml_registry_model,
-- whatever var domain says); without one the mart is empty.
with

scores as (
    {{ latest_positive_scores('corporate_churn', domain='bank') }}
),

final as (
    select
        entity_id as customer_id,
        score_month,
        score,
        reason_1,
        reason_2,
        reason_3,
        model_version
    from scores
)

select * from final
