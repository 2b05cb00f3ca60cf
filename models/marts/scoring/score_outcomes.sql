-- Every score with its outcome once the label month has matured: the label the model's
-- training set holds for (entity, month), null while it is still in the future. The
-- registry (ml_registry) names each model's training set; dbt needs those refs declared
-- statically, hence the depends_on lines: a new model's training set goes here too (a
-- test compares this list with the registry). Only the models of var domain (ml_registry)
-- are queried, so another domain's training sets need not exist. BI reads it: the entity
-- is its pseudonymous key (docs/privacy.md).
-- depends_on: {{ ref('churn_training_set') }}
-- depends_on: {{ ref('package_upsell_training_set') }}
-- depends_on: {{ ref('data_addon_training_set') }}
-- depends_on: {{ ref('corporate_churn_training_set') }}
-- depends_on: {{ ref('corporate_potential_training_set') }}
{%- set models = ml_registry() %}
with

scores as (
    select * from {{ source('ml', 'model_scores') }}
),

labels as (
    {%- for model in models %}
    select
        '{{ model.model_name }}' as model_name,
        cast({{ model.entity_id }} as {{ dbt.type_string() }}) as entity_id,
        {{ model.month_column }} as score_month,
        {{ model.label }} as label
    from {{ ref(model.training_set) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as model_name,
        cast(null as {{ dbt.type_string() }}) as entity_id,
        cast(null as date) as score_month,
        cast(null as integer) as label
    where 1 = 0
    {%- endfor %}
),

final as (
    select
        scores.model_name,
        scores.model_version,
        scores.score_month,
        {{ pseudonymize('scores.entity_id') }} as entity_key,
        scores.score,
        labels.label
    from scores
    left join labels
        on
            scores.model_name = labels.model_name
            and scores.entity_id = labels.entity_id
            and scores.score_month = labels.score_month
)

select * from final
