{#- A text value as the warehouse's string type, trimmed; empty (or blank) becomes null. -#}
{% macro clean_text(expr) -%}
    nullif(trim(cast({{ expr }} as {{ dbt.type_string() }})), '')
{%- endmacro %}
