{#- Columns of a relation by kind, read from the warehouse at run time, so a column added to
    a table is profiled, PSI-tested and IV-screened without editing any macro. -#}
{% macro columns_of_kind(relation, kind, exclude=[]) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set excluded = exclude | map('lower') | list -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.name | lower not in excluded
              and scorehouse.column_kind(column) == kind -%}
            {%- do names.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- 'numeric', 'text' or 'other' (dates, booleans, ...). -#}
{% macro column_kind(column) -%}
    {{ return(adapter.dispatch('column_kind', 'scorehouse')(column)) }}
{%- endmacro %}

{% macro default__column_kind(column) -%}
    {%- set dtype = column.dtype | lower -%}
    {%- if column.is_number() or dtype.startswith('decimal') or dtype.startswith('numeric')
          or dtype in ['hugeint', 'ubigint', 'uinteger', 'usmallint', 'utinyint', 'tinyint',
                       'int', 'long', 'short', 'byte', 'float', 'double'] -%}
        {{ return('numeric') }}
    {%- elif column.is_string() or dtype in ['varchar', 'text', 'string'] -%}
        {{ return('text') }}
    {%- else -%}
        {{ return('other') }}
    {%- endif -%}
{%- endmacro %}
