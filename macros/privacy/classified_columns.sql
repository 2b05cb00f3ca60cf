{#- The personal-data classification of the sources (docs/privacy.md): every source column
    with meta.pii (identifier | personal | sensitive), as {column name: class}; a name
    classified differently in two sources keeps the strictest class. -#}
{% macro classified_columns() -%}
    {%- set rank = {'personal': 1, 'sensitive': 2, 'identifier': 3} -%}
    {%- set classes = {} -%}
    {%- for source in graph.sources.values() -%}
        {%- for column in source.columns.values() -%}
            {%- set meta = column.meta or (column.config or {}).get('meta') or {} -%}
            {%- set pii = meta.get('pii') -%}
            {%- if pii and rank.get(pii, 0) > rank.get(classes.get(column.name), 0) -%}
                {%- do classes.update({column.name: pii}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(classes) }}
{%- endmacro %}

{#- Post-hook of every model BI reads (dbt_project.yml, meta audience: bi): the built
    relation may not have a column named like a source column classified `identifier`
    (subscriber_id, customer_id, entity_id, ...); such a column must go through
    pseudonymize() or a mask under another name (entity_key, entity_masked). The build
    of the model fails naming the column. -#}
{% macro assert_no_identifier_columns() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set classes = classified_columns() -%}
    {%- set found = [] -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- if classes.get(column.name | lower) == 'identifier' -%}
            {%- do found.append(column.name | lower) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if found -%}
        {%- do exceptions.raise_compiler_error(
            this ~ ' is read by BI but has the clear identifier column(s) ' ~ found | join(', ')
            ~ ': expose pseudonymize(...) as a key or a mask instead (docs/privacy.md)') -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
