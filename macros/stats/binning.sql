{#- Equal-frequency binning shared by PSI and IV (docs/architecture.md, Statistics; the
    same rules in Python: python_scoring/features/stats.py):

    - cut points: the exact quantiles at 1/bins .. (bins-1)/bins of the reference values,
      keeping only those strictly between the reference min and max (pandas.qcut's rule
      with duplicate edges merged: on zero-inflated counts the lowest cut disappears; a
      constant column has one bin);
    - a value falls in bin j when c(j-1) < x <= c(j) (right-closed); values beyond the
      reference range land in the end bins; nulls form a bin of their own;
    - a share of exactly 0 is replaced by EPSILON = 1e-4 (feature_engine's
      min_pct_empty_bins / WoE fill_value), so a bin empty on both sides adds exactly 0.

    Bins are counted through cumulative counts n(x <= c(j)) per cut point: one scan for
    every column at once, no unpivot of the data. An inactive cut point (not strictly
    inside the reference range) becomes -infinity (at the bottom) or +infinity (at the
    top), which leaves an empty bin on both sides and merges its neighbours. -#}

{% macro stats_epsilon() -%}1e-4{%- endmacro %}

{% macro cut_probabilities(bins) -%}
    {%- set probs = [] -%}
    {%- for j in range(1, bins) -%}
        {%- do probs.append(j / bins) -%}
    {%- endfor -%}
    {{ return(probs) }}
{%- endmacro %}

{#- CTEs (append a comma after the call) ending in <prefix>_thresholds: one row per group
    (or one row) holding the scalar thresholds <alias>_t1 .. _t(bins-1) that the counting
    pass compares with.

    A threshold is the cut itself when it lies strictly inside the reference range,
    -infinity below it (the cut disappears: n(x <= t) = 0) and +infinity above it
    (n(x <= t) = every non-null row).

    Each threshold reads its own column's quantile array, min and max, so the SQL grows
    linearly with the number of columns. (Unpivoting the arrays to one row per column with
    a CASE over every column and pivoting back made each threshold hold that CASE:
    quadratic in the columns: PostgreSQL, which inlines CTEs read once, took 15 s and 4 GB
    to plan one scenario of feature_iv and was OOM-killed at 19 GB building it.) The
    thresholds are a max() over the single row per group: an aggregate is never inlined
    into the counting pass, so no engine re-evaluates these CASEs for every row it counts.

    Memory: exact quantiles hold the reference rows' values in memory (DuckDB's
    quantile_cont does not spill), so this pass needs the reference group's (baseline
    month's) values in memory, not the whole relation (on DuckDB a column at a time,
    duckdb__quantile_ctes); the counting pass streams. Every CTE here is read once, so no
    engine recomputes it.

    source: CTE with the columns `aliases` (and `group_column`, when given: one column,
    or several joined by ', ', as psi_sides_query groups);
    where: an optional condition selecting the reference rows. -#}
{% macro threshold_ctes(prefix, source, aliases, bins, group_column=none, where=none) -%}
{%- set group_select = group_column ~ ', ' if group_column else '' -%}
{{ quantile_ctes(prefix, source, aliases, bins, group_column, where) }},

{{ prefix }}_thresholds as (
    select
        {{ group_select }}
        {%- for alias in aliases %}
        {%- set outer = loop %}
        {%- for j in range(1, bins) %}
        {%- set cut = array_element(alias ~ '_q', j) %}
        max(case
            when {{ cut }} > {{ alias }}_min and {{ cut }} < {{ alias }}_max then {{ cut }}
            when {{ cut }} > {{ alias }}_min then {{ float_infinity() }}
            else -{{ float_infinity() }}
        end) as {{ alias }}_t{{ j }}
        {{- "," if not (outer.last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    from {{ prefix }}_quantiles
    {%- if group_column %}
    group by {{ group_column }}
    {%- endif %}
)
{%- endmacro %}

{#- CTEs ending in <prefix>_quantiles: per group (or one row) each alias's min, max and
    quantile array (<alias>_min, _max, _q), from the reference rows of `source`. -#}
{% macro quantile_ctes(prefix, source, aliases, bins, group_column, where) -%}
    {{ return(adapter.dispatch('quantile_ctes', 'scorehouse')(prefix, source, aliases, bins, group_column, where)) }}
{%- endmacro %}

{% macro default__quantile_ctes(prefix, source, aliases, bins, group_column, where) -%}
{{ prefix }}_quantiles as (
    {{ quantile_select(source, aliases, bins, group_column, where) }}
)
{%- endmacro %}

{#- DuckDB's exact quantile holds every value of its group in memory, outside the
    memory_limit's buffer pool, and one aggregate over every column holds them all at once.
    One materialized CTE per column runs as a pipeline of its own instead, each reading its
    column only: the same quantile function, the same cut points; at 1M subscribers x 72
    columns x 2 months (bench/psi_benchmark.py) psi_query took 19.6 s and 2.87 GB peak RSS
    instead of 24.7 s and 3.36 GB. (The source CTE, read by every column and the counting
    pass, is still materialized whole.) -#}
{% macro duckdb__quantile_ctes(prefix, source, aliases, bins, group_column, where) -%}
{%- if aliases | length < 2 or not var('exact_quantiles', true) -%}
{{ default__quantile_ctes(prefix, source, aliases, bins, group_column, where) }}
{%- else -%}
{%- set groups = group_column.split(', ') if group_column else [] -%}
{%- for alias in aliases %}
{{ prefix }}_quantiles_{{ alias }} as materialized (
    {{ quantile_select(source, [alias], bins, group_column, where) }}
),
{%- endfor %}

{{ prefix }}_quantiles as (
    select
        {%- for column in groups %}
        {{ prefix }}_quantiles_{{ aliases[0] }}.{{ column }},
        {%- endfor %}
        {%- for alias in aliases %}
        {{ prefix }}_quantiles_{{ alias }}.{{ alias }}_min,
        {{ prefix }}_quantiles_{{ alias }}.{{ alias }}_max,
        {{ prefix }}_quantiles_{{ alias }}.{{ alias }}_q{{ "," if not loop.last }}
        {%- endfor %}
    from {{ prefix }}_quantiles_{{ aliases[0] }}
    {%- for alias in aliases[1:] %}
    inner join {{ prefix }}_quantiles_{{ alias }}
        {%- if groups %}
        on
        {%- for column in groups %}
        {{ "and " if not loop.first }}{{ prefix }}_quantiles_{{ alias }}.{{ column }} is not distinct from {{ prefix }}_quantiles_{{ aliases[0] }}.{{ column }}
        {%- endfor %}
        {%- else %}
        on true
        {%- endif %}
    {%- endfor %}
)
{%- endif -%}
{%- endmacro %}

{#- One select of min, max and quantiles of `aliases` per group of the reference rows. -#}
{% macro quantile_select(source, aliases, bins, group_column, where) -%}
{%- set group_select = group_column ~ ', ' if group_column else '' -%}
select
        {{ group_select }}
        {%- for alias in aliases %}
        min({{ alias }}) as {{ alias }}_min,
        max({{ alias }}) as {{ alias }}_max,
        {{ quantiles(alias, cut_probabilities(bins)) }} as {{ alias }}_q{{ "," if not loop.last }}
        {%- endfor %}
    from {{ source }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
    {%- if group_column %}
    group by {{ group_column }}
    {%- endif %}
{%- endmacro %}

{#- count(x <= threshold j of `alias`, read from relation `thresholds`). -#}
{% macro cumulative_count(expr, thresholds, alias, j) -%}
    {{ count_where(expr ~ ' <= ' ~ thresholds ~ '.' ~ alias ~ '_t' ~ j) }}
{%- endmacro %}

{#- Bin counts from cumulative counts le_1 .. le_(bins-1) and the non-null count:
    a list of SQL expressions, null bin first. -#}
{% macro bin_counts(prefix, n_rows, n_nonnull, bins) -%}
    {%- set counts = ['(' ~ n_rows ~ ' - ' ~ n_nonnull ~ ')', prefix ~ '1'] -%}
    {%- for j in range(2, bins) -%}
        {%- do counts.append('(' ~ prefix ~ j ~ ' - ' ~ prefix ~ (j - 1) ~ ')') -%}
    {%- endfor -%}
    {%- do counts.append('(' ~ n_nonnull ~ ' - ' ~ prefix ~ (bins - 1) ~ ')') -%}
    {{ return(counts) }}
{%- endmacro %}

{#- A share floored at EPSILON: count / total, or EPSILON when the count is 0. -#}
{% macro floored_share(count, total) -%}
    case
        when {{ count }} = 0 then {{ stats_epsilon() }}
        else cast({{ count }} as {{ type_double() }}) / {{ total }}
    end
{%- endmacro %}

{#- (a - e) * ln(a / e): the PSI term, and the IV term with a = event share, e = non-event. -#}
{% macro divergence_term(a, e) -%}
    (({{ a }}) - ({{ e }})) * ln(({{ a }}) / ({{ e }}))
{%- endmacro %}

{#- A typed query with no rows, for statistics over a relation without eligible columns. -#}
{% macro empty_stats_result(date_columns=[], integer_columns=[], float_columns=[]) -%}
    select
        {%- for name in date_columns %}
        cast(null as date) as {{ name }},
        {%- endfor %}
        cast(null as {{ dbt.type_string() }}) as column_name
        {%- for name in integer_columns %},
        cast(null as {{ dbt.type_bigint() }}) as {{ name }}
        {%- endfor %}
        {%- for name in float_columns %},
        cast(null as {{ type_double() }}) as {{ name }}
        {%- endfor %}
    where 1 = 0
{%- endmacro %}

{#- A CTE numbering the given column names 1..n (column_index, column_name): crossed with a
    one-row-per-group aggregate, it unpivots that aggregate with `pick_by_index` while
    reading it once (a CTE referenced once is never recomputed, on any engine). One VALUES
    list, not a union of one-row selects: Spark plans a union of 70 selects as 70 plan
    branches (a VALUES list made one feature_iv scenario ~25 % faster there). -#}
{% macro column_index_cte(name, columns) -%}
{{ name }} as (
    select column_index, column_name
    from (
        values
        {%- for column in columns %}
        ({{ loop.index }}, '{{ column }}'){{ "," if not loop.last }}
        {%- endfor %}
    ) as {{ name }}_values (column_index, column_name)
)
{%- endmacro %}

{#- case <index> when 1 then <prefix><alias 1><suffix> when 2 ... end -#}
{% macro pick_by_index(index_expr, aliases, prefix='', suffix='') -%}
    case {{ index_expr }}
        {%- for alias in aliases %}
        when {{ loop.index }} then {{ prefix }}{{ alias }}{{ suffix }}
        {%- endfor %}
    end
{%- endmacro %}
