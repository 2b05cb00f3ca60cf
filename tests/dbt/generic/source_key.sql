{#- The key of a raw table: fails on every row with a null in one of `columns` and (unique,
    the default) on every combination of them that occurs more than once. A raw table that
    was never loaded passes: a bank loads only the feeds of the jobs it runs, and the staging
    model reads such a table as empty (source_or_empty). -#}
{% test source_key(model, columns, unique=true) %}

{%- if execute and load_relation(model) is none %}
select 1 as failure
where 1 = 0
{%- else %}
select
    {{ columns | join(', ') }},
    count(*) as n_rows
from {{ model }}
{%- if unique %}
group by {{ columns | join(', ') }}
having
    count(*) > 1
    {%- for column in columns %}
    or {{ column }} is null
    {%- endfor %}
{%- else %}
where
    {%- for column in columns %}
    {{ "or " if not loop.first }}{{ column }} is null
    {%- endfor %}
group by {{ columns | join(', ') }}
{%- endif %}
{%- endif %}

{% endtest %}
