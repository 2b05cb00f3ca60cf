{#- Standard monthly window features of one measure, over a gap-free subscriber-month spine:
    <col>_lag1, <col>_lag2, <col>_avg3 (this and the two previous months) and <col>_mom
    (month-over-month relative change). Adding a measure to a window model is one line. -#}
{% macro window_features(column, partition_by, order_by) -%}
    {%- set w = 'partition by ' ~ partition_by ~ ' order by ' ~ order_by -%}
    lag({{ column }}, 1) over ({{ w }}) as {{ column }}_lag1,
    lag({{ column }}, 2) over ({{ w }}) as {{ column }}_lag2,
    avg({{ column }}) over ({{ w }} rows between 2 preceding and current row) as {{ column }}_avg3,
    {{ safe_divide(column, 'lag(' ~ column ~ ', 1) over (' ~ w ~ ')') }} - 1 as {{ column }}_mom
{%- endmacro %}
