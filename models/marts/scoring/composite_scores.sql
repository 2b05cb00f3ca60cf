-- Weighted composite score per entity and month over every registry model that scored it:
--   composite_score = sum(weight_i * score_i) / sum(weight_i), over the models present.
-- A model missing for an entity drops out of both sums (the weights are renormalised over
-- the models that did score it); models_scored and weight_coverage show how complete the
-- composite is, so BI can filter on full coverage when that matters.
-- BI reads it: the entity is its pseudonymous key and a masked display, never its clear id
-- (docs/privacy.md; the operations role maps keys to ids in restricted.customer_keys).
with

scores as (
    select * from {{ source('ml', 'model_scores') }}
),

models as (
    select * from {{ ref('dim_ml_models') }}
),

expected as (
    select entity, sum(composite_weight) as total_weight, count(*) as models_expected
    from models
    group by entity
),

weighted as (
    select
        models.entity,
        scores.entity_id,
        scores.score_month,
        scores.score,
        models.composite_weight
    from scores
    inner join models on scores.model_name = models.model_name
),

combined as (
    select
        entity,
        entity_id,
        score_month,
        sum(composite_weight * score) / sum(composite_weight) as composite_score,
        count(*) as models_scored,
        sum(composite_weight) as weight_scored
    from weighted
    group by entity, entity_id, score_month
),

final as (
    select
        combined.entity,
        {{ pseudonymize('combined.entity_id') }} as entity_key,
        {{ mask_identifier('combined.entity_id') }} as entity_masked,
        combined.score_month,
        combined.composite_score,
        combined.models_scored,
        expected.models_expected,
        combined.weight_scored / expected.total_weight as weight_coverage,
        -- bigint as the contract says: row_number is int on Spark, ntile int on PostgreSQL
        -- and Spark
        cast(row_number() over (
            partition by combined.entity, combined.score_month
            order by combined.composite_score desc, combined.entity_id asc
        ) as {{ dbt.type_bigint() }}) as score_rank,
        cast(ntile(10) over (
            partition by combined.entity, combined.score_month
            order by combined.composite_score desc, combined.entity_id asc
        ) as {{ dbt.type_bigint() }}) as score_decile
    from combined
    inner join expected on combined.entity = expected.entity
)

select * from final
