-- One row per enabled model of the registry (dbt exposures of type ml), so SQL can join
-- composite weights and owners. Rebuilt from the exposures on every run.
{%- set models = ml_registry() %}

with

registry as (
    {%- for model in models %}
    select
        '{{ model.model_name }}' as model_name,
        '{{ model.scenario }}' as scenario,
        '{{ model.entity }}' as entity,
        '{{ model.algorithm }}' as algorithm,
        {{ model.composite_weight }} as composite_weight,
        '{{ model.owner }}' as owner
    union all
    {%- endfor %}
    -- typed anchor row, filtered out: fixes the column types and keeps an empty registry valid
    select
        cast(null as {{ dbt.type_string() }}) as model_name,
        cast(null as {{ dbt.type_string() }}) as scenario,
        cast(null as {{ dbt.type_string() }}) as entity,
        cast(null as {{ dbt.type_string() }}) as algorithm,
        cast(null as {{ type_double() }}) as composite_weight,
        cast(null as {{ dbt.type_string() }}) as owner
    where 1 = 0
),

final as (
    select * from registry
)

select * from final
