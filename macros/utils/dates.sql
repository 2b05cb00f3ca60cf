{#- Month arithmetic on first-of-month dates. A month is always a `date` in SQL. -#}

{% macro add_months(month_expr, n) -%}
    cast({{ dbt.dateadd('month', n, month_expr) }} as date)
{%- endmacro %}

{% macro month_of(date_expr) -%}
    cast({{ dbt.date_trunc('month', date_expr) }} as date)
{%- endmacro %}

{% macro months_between(earlier, later) -%}
    {{ dbt.datediff(earlier, later, 'month') }}
{%- endmacro %}
