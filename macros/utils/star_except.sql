{#- Every column of a relation except some, qualified by an alias: the project's stand-in for
    dbt_utils.star (the package hub is unreachable here). Reads the columns from the
    warehouse at run time, so a column added upstream appears downstream by itself. -#}
{% macro star_except(relation, alias, except=[]) -%}
    {#- Nothing to exclude: every column, no introspection. Parse time, or compile/lint
        before the upstream table was ever built: nothing to introspect, so render a
        placeholder that still parses. -#}
    {%- if not except or not execute or load_relation(relation) is none -%}
        {{ return(alias ~ '.*') }}
    {%- endif -%}
    {%- set excluded = except | map('lower') | list -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.name | lower not in excluded -%}
            {%- do names.append(alias ~ '.' ~ column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not names -%}
        {{ exceptions.raise_compiler_error('star_except: no columns found in ' ~ relation) }}
    {%- endif -%}
    {{ return(names | join(',\n        ')) }}
{%- endmacro %}
