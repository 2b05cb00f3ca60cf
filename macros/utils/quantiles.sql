{#- Exact linear-interpolation quantiles (numpy's default, pandas.qcut's) of `expr` at each
    probability in `probs`, as one array; `array_element` reads it 1-based.

    var exact_quantiles (default true): false switches DuckDB to approx_quantile (a
    streaming t-digest) for data whose reference month does not fit in memory: DuckDB's
    exact quantile holds the values in memory, PostgreSQL's sorts and spills to disk, and
    Spark's `percentile` is exact either way. -#}
{% macro quantiles(expr, probs) -%}
    {{ return(adapter.dispatch('quantiles', 'scorehouse')(expr, probs)) }}
{%- endmacro %}

{% macro default__quantiles(expr, probs) -%}
    percentile_cont(array[{{ probs | join(', ') }}]::float8 []) within group (order by {{ expr }})
{%- endmacro %}

{#- DuckDB (1.5) rounds lo*(1-d) + hi*d twice, so between two equal order statistics it can
    miss their value by an ulp, out of order (29.99, 29.99 -> 29.989999999999995 at 0.6,
    29.990000000000002 at 0.8), where PostgreSQL and Spark give 29.99: a result within
    1e-12 of quantile_disc (an order statistic next to it) is that order statistic, and the
    list is sorted, as the cut points it holds (python_scoring.features.stats.sql_quantiles
    computes the same). -#}
{% macro duckdb__quantiles(expr, probs) -%}
    {%- if var('exact_quantiles', true) -%}
    {%- set p = '[' ~ probs | join(', ') ~ ']' -%}
    list_sort(list_transform(
        list_zip(quantile_cont({{ expr }}, {{ p }}), quantile_disc({{ expr }}, {{ p }})),
        q -> case when abs(q[1] - q[2]) <= 1e-12 * abs(q[2]) then q[2] else q[1] end
    ))
    {%- else -%}
    approx_quantile({{ expr }}, [{{ probs | join(', ') }}])
    {%- endif -%}
{%- endmacro %}

{% macro spark__quantiles(expr, probs) -%}
    percentile({{ expr }}, array({{ probs | join(', ') }}))
{%- endmacro %}

{% macro array_element(array_expr, index) -%}
    {{ return(adapter.dispatch('array_element', 'scorehouse')(array_expr, index)) }}
{%- endmacro %}

{% macro default__array_element(array_expr, index) -%}
    ({{ array_expr }})[{{ index }}]
{%- endmacro %}

{% macro spark__array_element(array_expr, index) -%}
    element_at({{ array_expr }}, {{ index }})
{%- endmacro %}
