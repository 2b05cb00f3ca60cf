{#- Custom schemas are used as-is (staging, features, ml, marts, ...), not prefixed with the
    target schema: the warehouse layout is the same on every engine and Python resolves it
    from the manifest either way. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
