{#- A source table, or an empty stand-in with its declared columns (as text, all null) when
    the table does not exist yet: the bank loads only the feeds of the jobs it runs (a
    churn-warning file, a basket file, ...), and models over a feed never loaded are then
    empty instead of failing. Staging models cast every column, so the stand-in's text
    columns take the same types as the real table's. A staging view is rebuilt by every
    run, so it reads the table once it is loaded. -#}
{% macro source_or_empty(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute or load_relation(relation) is not none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', source_name)
                   | selectattr('name', 'equalto', table_name) | first -%}
    {%- if not node.columns -%}
        {{ exceptions.raise_compiler_error(
            'source_or_empty: ' ~ relation ~ ' does not exist and source ' ~ source_name ~ '.'
            ~ table_name ~ ' declares no columns') }}
    {%- endif -%}
    {%- do log('source_or_empty: ' ~ relation ~ ' does not exist, read as empty', info=true) -%}
    {%- set columns = [] -%}
    {%- for name in node.columns -%}
        {%- do columns.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ name) -%}
    {%- endfor -%}
    {{ return('(select ' ~ columns | join(', ') ~ ' where 1 = 0) as not_loaded') }}
{%- endmacro %}
