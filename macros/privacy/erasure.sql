{#- Staging's filter for the right to erasure: true unless the id is on the suppression list
    ml.erasure_requests (`scorehouse forget`, docs/privacy.md), so an erased customer never
    comes back from the raw feeds into any derived table. A null id passes (the sources'
    not_null tests report it); ids compare as text, as ml.* holds them. -#}
{% macro not_erased(column) -%}
    ({{ column }} is null or cast({{ column }} as {{ dbt.type_string() }}) not in (
        select entity_id from {{ source('ml', 'erasure_requests') }}
    ))
{%- endmacro %}
