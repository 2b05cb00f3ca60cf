{#- The model registry: dbt exposures of type `ml` whose meta.scorehouse block holds the
    scoring config (DESIGN.md). python_scoring reads the same exposures from the manifest;
    SQL reads them here (composite weights, dim_ml_models). Validation of the keys is
    python_scoring's job (`scorehouse check`), this macro only reads. -#}
{% macro ml_registry() -%}
    {%- set models = [] -%}
    {%- if execute -%}
        {%- for exposure in graph.exposures.values() | sort(attribute='name') -%}
            {%- if exposure.type == 'ml' -%}
                {%- set spec = exposure.meta.get('scorehouse', {}) -%}
                {%- if spec.get('enabled', true) -%}
                    {%- do models.append({
                        'model_name': exposure.name,
                        'scenario': spec.get('scenario'),
                        'entity': spec.get('entity', 'subscriber'),
                        'algorithm': spec.get('algorithm', 'lightgbm'),
                        'composite_weight': spec.get('composite_weight', 1.0),
                        'owner': exposure.owner.name,
                        'training_set': spec.get('training_set'),
                        'entity_id': spec.get('entity_id'),
                        'label': spec.get('label'),
                        'month_column': spec.get('month_column', 'month'),
                    }) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(models) }}
{%- endmacro %}

{#- The score month as a SQL date expression: var score_month, or the latest month that
    the given relation holds. -#}
{% macro score_month(month_relation, month_column='month') -%}
    {%- if var('score_month') -%}
        cast('{{ var("score_month") }}' as date)
    {%- else -%}
        (select max({{ month_column }}) from {{ month_relation }})
    {%- endif -%}
{%- endmacro %}
