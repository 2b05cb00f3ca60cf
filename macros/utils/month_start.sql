{#- The first day of the month a column names, as a date, from whatever a user's table
    holds: a date, a timestamp, text 'YYYY-MM-DD...' or 'YYYY-MM', or YYYYMM (number or
    text). Portable: text functions only (DuckDB, PostgreSQL, Spark). -#}
{% macro month_start(column) -%}
    {%- set text = "cast(" ~ adapter.quote(column) ~ " as " ~ dbt.type_string() ~ ")" -%}
    cast(
        case
            when length({{ text }}) = 6
                then concat(substr({{ text }}, 1, 4), '-', substr({{ text }}, 5, 2), '-01')
            else concat(substr({{ text }}, 1, 7), '-01')
        end as date
    )
{%- endmacro %}
