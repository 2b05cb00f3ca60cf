{%- set model = ml_registry_model('corporate_churn', domain='bank') %}
-- Corporate churn warnings: the customers of the churn model's latest scored month whose
-- score reaches the registry threshold, with the top three reasons. The model is the
-- enabled registry model of scenario corporate_churn in domain bank (ml_registry_model,
-- whatever var domain says); without one the mart is empty.
with

scores as (
    select * from {{ source('ml', 'model_scores') }}
    {%- if model %}
    where model_name = '{{ model.model_name }}'
    {%- else %}
    where 1 = 0
    {%- endif %}
),

latest as (
    select max(score_month) as score_month from scores
),

final as (
    select
        scores.entity_id as customer_id,
        scores.score_month,
        scores.score,
        scores.reason_1,
        scores.reason_2,
        scores.reason_3,
        scores.model_version
    from scores
    inner join latest on scores.score_month = latest.score_month
    where scores.score >= {{ model.threshold if model else 0.5 }}
)

select * from final
