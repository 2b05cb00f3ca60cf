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
    every column at once, no unpivot of the data (on Spark one unpivot: see
    spark__binned_counts_ctes). An inactive cut point (not strictly
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
    pass compares with (cut_threshold: the cut, or -/+infinity when it is not strictly
    inside the reference range).

    Each threshold reads its own column's quantile array, min and max, so the SQL grows
    linearly with the number of columns. (Unpivoting the arrays to one row per column with
    a CASE over every column and pivoting back made each threshold hold that CASE:
    quadratic in the columns: PostgreSQL, which inlines CTEs read once, took 15 s and 4 GB
    to plan one scenario of feature_iv and was OOM-killed at 19 GB building it.) The
    thresholds are a max() over the single row per group: an aggregate is never inlined
    into the counting pass, so no engine re-evaluates these CASEs for every row it counts.

    Memory: the quantiles need the reference group's (baseline month's) values, not the
    whole relation: PostgreSQL's percentile_cont sorts and spills, DuckDB's exact cut
    points come from a sort that spills (duckdb__quantile_ctes), Spark's percentile holds
    them in executor memory; the counting pass streams. Every CTE here is read once, so
    no engine recomputes it.

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
        max({{ cut_threshold(cut, alias ~ '_min', alias ~ '_max') }}) as {{ alias }}_t{{ j }}
        {{- "," if not (outer.last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    from {{ prefix }}_quantiles
    {%- if group_column %}
    group by {{ group_column }}
    {%- endif %}
)
{%- endmacro %}

{#- The threshold compared with for a cut point: the cut when strictly inside the
    reference range, +infinity above it (n(x <= t) = every non-null row), else -infinity
    (n(x <= t) = 0). -#}
{% macro cut_threshold(cut, value_min, value_max) -%}
case
            when {{ cut }} > {{ value_min }} and {{ cut }} < {{ value_max }} then {{ cut }}
            when {{ cut }} > {{ value_min }} then {{ float_infinity() }}
            else -{{ float_infinity() }}
        end
{%- endmacro %}

{#- Written after `<name> as` for the source CTE of a statistic that every column's
    quantiles read. On a table (materialize=false) DuckDB reads each column straight from
    the columnar relation instead of materializing all the columns first (at 1M
    subscribers x 72 columns x 2 months that copy is 1.2 GB, spilled under a memory
    limit); on a view (materialize=true: the training sets join the wide table to a
    label) it evaluates the view once instead of once per column (feature_iv at 1M:
    146 s against 318 s). PostgreSQL and Spark keep their default. -#}
{% macro source_cte_materialization(materialize=false) -%}
    {{ return(adapter.dispatch('source_cte_materialization', 'scorehouse')(materialize)) }}
{%- endmacro %}

{% macro default__source_cte_materialization(materialize) -%}{%- endmacro %}

{% macro duckdb__source_cte_materialization(materialize) -%}
    {{- 'materialized' if materialize else 'not materialized' -}}
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

{#- DuckDB's exact quantile aggregates hold every value of their group in memory that the
    buffer pool cannot evict, until the query ends: at 1M subscribers x 72 columns x 2
    months (bench/psi_benchmark.py) they reached 1.5 GB and failed under a memory_limit of
    a quarter of the data, one aggregate per column or all in one. Here the order
    statistics come from one sort, which DuckDB spills to disk: the reference rows'
    columns unpivoted to (value_index, value) and ranked per group and column
    (row_number); the ranks the quantiles need, computed from each column's count, picked
    out by a join; pivoted back to one row per group. Same positions and rounding as
    quantile_cont with quantile_disc's snap (duckdb__quantiles; python_scoring's
    features.stats.sql_quantiles), so the same cut points bit for bit, and faster
    (13.4 -> 10.9 s for those 72 columns). var exact_quantiles: false keeps approx_quantile. -#}
{% macro duckdb__quantile_ctes(prefix, source, aliases, bins, group_column, where) -%}
{%- if not var('exact_quantiles', true) -%}
{{ default__quantile_ctes(prefix, source, aliases, bins, group_column, where) }}
{%- else -%}
{%- set groups = group_column.split(', ') if group_column else [] -%}
{%- set group_select = group_column ~ ', ' if group_column else '' -%}
{%- set probs = cut_probabilities(bins) -%}
{%- set value_indexes = 'unnest(range(1, ' ~ (aliases | length + 1) ~ ')) as value_index' -%}
{#- at probability p, with n values: h = (n-1)p; lo and hi are ranked floor(h)+1 and
    ceil(h)+1, d = h - floor(h); disc (quantile_disc's) is ranked ceil(np) -#}
{%- set positions = [] -%}
{%- for p in probs -%}
    {%- set h = '(n - 1) * cast(' ~ p ~ ' as double)' -%}
    {%- do positions.append({
        'lo': 'floor(' ~ h ~ ') + 1',
        'hi': 'ceil(' ~ h ~ ') + 1',
        'disc': 'greatest(ceil(n * cast(' ~ p ~ ' as double)), 1)',
        'd': h ~ ' - floor(' ~ h ~ ')',
    }) -%}
{%- endfor %}
{{ prefix }}_values as (
    select
        {{ group_select }}
        {{ value_indexes }},
        unnest([{{ aliases | join(', ') }}]) as value
    {{ reference_rows(source, where) }}
),

{{ prefix }}_value_counts as (
    select
        {{ group_select }}
        {{ value_indexes }},
        unnest([
            {%- for alias in aliases %}count({{ alias }}){{ ", " if not loop.last }}{% endfor -%}
        ]) as n
    {{ reference_rows(source, where, group_column) }}
),

{{ prefix }}_wanted_ranks as (
    select
        {{ group_select }}
        value_index,
        n,
        unnest([
            1,
            n
            {%- for position in positions %},
            {{ position.lo }},
            {{ position.hi }},
            {{ position.disc }}
            {%- endfor %}
        ]) as value_rank
    from {{ prefix }}_value_counts
),

{{ prefix }}_ranked as (
    select
        {{ group_select }}
        value_index,
        value,
        row_number() over (
            partition by {{ group_select }}value_index order by value nulls last
        ) as value_rank
    from {{ prefix }}_values
),

{{ prefix }}_order_statistics as (
    select
        {%- for column in groups %}
        ranked.{{ column }},
        {%- endfor %}
        ranked.value_index,
        max(wanted.n) as n,
        max(ranked.value) filter (where ranked.value_rank = 1) as value_min,
        max(ranked.value) filter (where ranked.value_rank = wanted.n) as value_max
        {%- for position in positions %},
        max(ranked.value) filter (where ranked.value_rank = {{ position.lo }}) as lo{{ loop.index }},
        max(ranked.value) filter (where ranked.value_rank = {{ position.hi }}) as hi{{ loop.index }},
        max(ranked.value) filter (where ranked.value_rank = {{ position.disc }}) as disc{{ loop.index }},
        max({{ position.d }}) as d{{ loop.index }}
        {%- endfor %}
    from {{ prefix }}_ranked as ranked
    inner join {{ prefix }}_wanted_ranks as wanted
        on
        {%- for column in groups %}
        ranked.{{ column }} is not distinct from wanted.{{ column }} and
        {%- endfor %}
        ranked.value_index = wanted.value_index
        and ranked.value_rank = wanted.value_rank
    group by {% for column in groups %}ranked.{{ column }}, {% endfor %}ranked.value_index
),

{#- lo*(1-d) + hi*d as quantile_cont rounds it, or disc when within 1e-12 of it -#}
{{ prefix }}_cuts as (
    select
        {{ group_select }}
        value_index,
        value_min,
        value_max,
        case when n > 0 then list_sort([
            {%- for position in positions %}
            {%- set cut = '(lo' ~ loop.index ~ ' * (1 - d' ~ loop.index ~ ') + hi' ~ loop.index ~ ' * d' ~ loop.index ~ ')' %}
            case
                when abs({{ cut }} - disc{{ loop.index }}) <= 1e-12 * abs(disc{{ loop.index }})
                    then disc{{ loop.index }}
                else {{ cut }}
            end{{ "," if not loop.last }}
            {%- endfor %}
        ]) end as value_q
    from {{ prefix }}_order_statistics
),

{{ prefix }}_quantiles as (
    select
        {{ group_select }}
        {%- for alias in aliases %}
        {%- set pick = ' filter (where value_index = ' ~ loop.index ~ ') as ' ~ alias %}
        max(value_min){{ pick }}_min,
        max(value_max){{ pick }}_max,
        max(value_q){{ pick }}_q{{ "," if not loop.last }}
        {%- endfor %}
    from {{ prefix }}_cuts
    {%- if group_column %}
    group by {{ group_column }}
    {%- endif %}
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
    {{ reference_rows(source, where, group_column) }}
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

{#- CTEs (append a comma after the call) ending in <prefix>_long: one row per group and
    column: the group columns, column_name, n_rows, n_nonnull and the cumulative counts
    le1 .. le(bins-1) of the column's values against its cut points; bin_counts turns them
    into bins. The cut points come from the reference rows (threshold_ctes).

    source: CTE holding `aliases` (one per name in `columns`) and the other columns `keys`
            that rows, groups, group_column and where read;
    rows: the FROM clause giving each row to count (`source`, or `source` joined to the
          groups it is counted in);
    groups: the qualified group columns ('iv_source.iv_label'); the output keeps the
            name after the dot;
    group_column, where: the reference rows' grouping and condition (threshold_ctes);
    threshold_on: the condition joining a row to its group's cut points (none: one set
                  of cut points for every row). -#}
{% macro binned_counts_ctes(prefix, source, keys, columns, aliases, bins, rows, groups,
                            group_column=none, where=none, threshold_on=none) -%}
    {{ return(adapter.dispatch('binned_counts_ctes', 'scorehouse')(
        prefix, source, keys, columns, aliases, bins, rows, groups, group_column, where,
        threshold_on)) }}
{%- endmacro %}

{#- One scan counts every column at once into one wide row per group; the CTE numbering
    the columns, crossed with that row, unpivots it (pick_by_index) while reading it once
    (a CTE referenced once is never recomputed, on any engine). -#}
{% macro default__binned_counts_ctes(prefix, source, keys, columns, aliases, bins, rows, groups,
                                     group_column, where, threshold_on) -%}
{{ threshold_ctes(prefix, source, aliases, bins, group_column, where) }},

{{ prefix }}_counts as (
    select
        {%- for group in groups %}
        {{ group }},
        {%- endfor %}
        count(*) as n_rows
        {%- for alias in aliases %},
        count({{ source }}.{{ alias }}) as {{ alias }}_n
        {%- for j in range(1, bins) %},
        {{ cumulative_count(source ~ '.' ~ alias, prefix ~ '_thresholds', alias, j) }} as {{ alias }}_le{{ j }}
        {%- endfor %}
        {%- endfor %}
    from {{ rows }}
    {% if threshold_on -%}
    inner join {{ prefix }}_thresholds on {{ threshold_on }}
    {%- else -%}
    cross join {{ prefix }}_thresholds
    {%- endif %}
    group by {{ groups | join(', ') }}
),

{{ column_index_cte(prefix ~ '_columns', columns) }},

{{ prefix }}_long as (
    select
        {%- for group in groups %}
        {{ prefix }}_counts.{{ group.split('.') | last }},
        {%- endfor %}
        {{ prefix }}_columns.column_name,
        {{ prefix }}_counts.n_rows,
        {{ pick_by_index(prefix ~ '_columns.column_index', aliases, prefix ~ '_counts.', '_n') }} as n_nonnull
        {%- for j in range(1, bins) %},
        {{ pick_by_index(prefix ~ '_columns.column_index', aliases, prefix ~ '_counts.', '_le' ~ j) }} as le{{ j }}
        {%- endfor %}
    from {{ prefix }}_counts
    cross join {{ prefix }}_columns
)
{%- endmacro %}

{#- Spark: `source` is unpivoted once by stack() into (keys, column_name, column_value);
    the quantiles, cut points and counts are each one group by column_name over it. The
    same values as the wide scan, in a plan that grows by one stack argument per column:
    the wide plan (columns x bins aggregates, cut points and 60-way CASEs picking them
    back; feature_iv's SQL 873 KB) took Spark 53 s to analyse and optimise and 86 s to run
    for 16,000 rows. `rows` and `groups` read the stacked rows in place of `source`. -#}
{% macro spark__binned_counts_ctes(prefix, source, keys, columns, aliases, bins, rows, groups,
                                   group_column, where, threshold_on) -%}
{%- set stacked = prefix ~ '_stacked' -%}
{%- set thresholds = prefix ~ '_thresholds' -%}
{%- set group_select = group_column ~ ', ' if group_column else '' -%}
{%- set names = [] -%}
{%- for group in groups %}{% do names.append(group.split('.') | last) %}{% endfor -%}
{{ stacked }} as (
    select
        {%- for key in keys %}
        {{ key }},
        {%- endfor %}
        stack(
            {{ aliases | length }}
            {%- for alias in aliases %},
            '{{ columns[loop.index0] }}', {{ alias }}
            {%- endfor %}
        ) as (column_name, column_value)
    from {{ source }}
),

{{ prefix }}_quantiles as (
    select
        {{ group_select }}column_name,
        min(column_value) as value_min,
        max(column_value) as value_max,
        {{ quantiles('column_value', cut_probabilities(bins)) }} as value_q
    {{ reference_rows(stacked, where, group_select ~ 'column_name') }}
),

{{ thresholds }} as (
    select
        {{ group_select }}column_name
        {%- for j in range(1, bins) %},
        {{ cut_threshold(array_element('value_q', j), 'value_min', 'value_max') }} as threshold{{ j }}
        {%- endfor %}
    from {{ prefix }}_quantiles
),

{{ prefix }}_long as (
    select
        {%- for name in names %}
        {{ name }},
        {%- endfor %}
        {{ stacked }}.column_name,
        count(*) as n_rows,
        count({{ stacked }}.column_value) as n_nonnull
        {%- for j in range(1, bins) %},
        {{ count_where(stacked ~ '.column_value <= ' ~ thresholds ~ '.threshold' ~ j) }} as le{{ j }}
        {%- endfor %}
    from {{ rows | replace(source, stacked) }}
    inner join {{ thresholds }}
        on {{ (threshold_on ~ ' and ') if threshold_on }}{{ stacked }}.column_name = {{ thresholds }}.column_name
    group by {{ groups | join(', ') | replace(source, stacked) }}, {{ stacked }}.column_name
)
{%- endmacro %}

{#- A CTE numbering the given column names 1..n (column_index, column_name). One VALUES
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

{#- The FROM clause over the reference rows: `source`, filtered by `where` (optional),
    grouped by `group_column` (optional). -#}
{% macro reference_rows(source, where, group_column=none) -%}
from {{ source }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
    {%- if group_column %}
    group by {{ group_column }}
    {%- endif %}
{%- endmacro %}
