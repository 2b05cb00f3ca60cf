{#- Planner statistics for a table just built, where the next models join it: PostgreSQL
    (and Greenplum) collect none on `create table as`, and over tables without them the
    planner guessed one row per join and nested-looped for minutes (the cross-sell
    candidates: 64 s for 3,000 customers, under a second once analyzed). DuckDB and Spark
    plan on their own: nothing there. Use as a post-hook. -#}
{% macro analyze_table() -%}
    {{ return(adapter.dispatch('analyze_table', 'scorehouse')()) }}
{%- endmacro %}

{% macro default__analyze_table() -%}{%- endmacro %}

{% macro postgres__analyze_table() -%}
    analyze {{ this }}
{%- endmacro %}
