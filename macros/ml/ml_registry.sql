{#- The model registry: dbt exposures of type `ml` whose meta.scorehouse block holds the
    scoring config (docs/architecture.md, Contracts). python_scoring reads the same exposures
    from the manifest; SQL reads them here (composite weights, dim_ml_models). Validation of
    the keys is python_scoring's job (`scorehouse check`), this macro only reads.

    Only exposures with a meta.scorehouse block are models (a meta.scorehouse_rules block is
    a rule set: no scores), and only those of one domain (meta.scorehouse.domain, default
    'telco'): var `domain` unless given, so the scoring marts cover one business at a time. -#}
{#- The defaults of the meta.scorehouse keys ml_registry reads. python_scoring/registry.py
    (ModelSpec) owns them: tests/python/test_registry.py checks that these agree. -#}
{% macro ml_registry_defaults() -%}
    {{ return({
        'domain': 'telco',
        'enabled': true,
        'entity': 'subscriber',
        'algorithm': 'lightgbm',
        'composite_weight': 1.0,
        'threshold': 0.5,
        'month_column': 'month',
    }) }}
{%- endmacro %}

{% macro ml_registry(domain=none) -%}
    {%- set defaults = ml_registry_defaults() -%}
    {%- set domain = domain or var('domain', defaults['domain']) -%}
    {%- set models = [] -%}
    {%- if execute -%}
        {%- for exposure in graph.exposures.values() | sort(attribute='name') -%}
            {%- if exposure.type == 'ml' and 'scorehouse' in exposure.meta -%}
                {%- set spec = {} -%}
                {%- do spec.update(defaults) -%}
                {%- do spec.update(exposure.meta['scorehouse']) -%}
                {%- if spec['enabled'] and spec['domain'] == domain -%}
                    {%- do models.append({
                        'model_name': exposure.name,
                        'domain': spec['domain'],
                        'scenario': spec.get('scenario'),
                        'entity': spec['entity'],
                        'algorithm': spec['algorithm'],
                        'composite_weight': spec['composite_weight'],
                        'threshold': spec['threshold'],
                        'owner': exposure.owner.name,
                        'training_set': spec.get('training_set'),
                        'entity_id': spec.get('entity_id'),
                        'label': spec.get('label'),
                        'month_column': spec['month_column'],
                    }) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(models) }}
{%- endmacro %}

{#- The one enabled registry model of a scenario in a domain (whatever var `domain` says:
    a mart of one business names its domain), or none when there is none (a mart then
    renders empty). Two enabled models of one scenario are an error: say which one a mart
    reads. -#}
{% macro ml_registry_model(scenario, domain) -%}
    {%- set found = ml_registry(domain) | selectattr('scenario', 'equalto', scenario) | list -%}
    {%- if found | length > 1 -%}
        {{ exceptions.raise_compiler_error(
            'ml_registry_model: ' ~ found | length ~ ' enabled models of scenario ' ~ scenario
            ~ ' in domain ' ~ domain ~ ': ' ~ found | map(attribute='model_name') | join(', ')) }}
    {%- endif -%}
    {{ return(found[0] if found else none) }}
{%- endmacro %}

{#- var score_month checked: none when unset, else 'YYYY-MM-01'; anything else (a mid-month
    day, a month 13, text) stops the compilation with one line. Whether the month is in
    the data is the test score_month_in_data's (on each domain's month table). -#}
{% macro score_month_var() -%}
    {%- set value = var('score_month') -%}
    {%- if value is none or value == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string -%}
    {%- set parts = modules.re.fullmatch('([0-9]{4})-([0-9]{2})-01', text) -%}
    {%- if not parts or (parts.group(2) | int) < 1 or (parts.group(2) | int) > 12 -%}
        {{ exceptions.raise_compiler_error(
            "var score_month must be the first day of a month (YYYY-MM-01), got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}

{#- The score month as a SQL date expression: var score_month, or the latest month that
    the given relation holds. -#}
{% macro score_month(month_relation, month_column='month') -%}
    {%- if score_month_var() -%}
        cast('{{ score_month_var() }}' as date)
    {%- else -%}
        (select max({{ month_column }}) from {{ month_relation }})
    {%- endif -%}
{%- endmacro %}

{#- The scores of a scenario's registry model (ml_registry_model) in its latest scored
    month that reach the model's registry threshold: the "predicted positive" customers the
    bank's lists hold. No enabled model: no rows. -#}
{% macro latest_positive_scores(scenario, domain) -%}
    {%- set model = ml_registry_model(scenario, domain) -%}
    select scores.*
    from {{ source('ml', 'model_scores') }} as scores
    {%- if model %}
    where
        scores.model_name = '{{ model.model_name }}'
        and scores.score >= {{ model.threshold }}
        and scores.score_month = (
            select max(latest.score_month)
            from {{ source('ml', 'model_scores') }} as latest
            where latest.model_name = '{{ model.model_name }}'
        )
    {%- else %}
    where 1 = 0
    {%- endif %}
{%- endmacro %}
