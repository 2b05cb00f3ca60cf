{#- Equal-frequency binning shared by PSI and IV (DESIGN.md, python_scoring/stats.py):

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

{#- Two CTEs (append a comma after the call): <prefix>_quantiles, one row per column (and
    per group), and <prefix>_thresholds, one row per group holding the scalar thresholds
    <alias>_t1 .. _t(bins-1) the counting pass compares with.

    A threshold is the cut itself when it lies strictly inside the reference range,
    -infinity below it (the cut disappears: n(x <= t) = 0) and +infinity above it
    (n(x <= t) = every non-null row).

    Quantiles are computed one column per union branch: an exact quantile holds its
    column's values in memory, so a branch needs one column of one group, not the whole
    table, and the statistics run where the data would not fit in memory.

    source: CTE with the columns `aliases` (and `group_column`, when given);
    where: an optional condition selecting the reference rows. -#}
{% macro threshold_ctes(prefix, source, aliases, bins, group_column=none, where=none) -%}
{%- set group_select = group_column ~ ', ' if group_column else '' -%}
{{ prefix }}_quantiles as (
    {%- for alias in aliases %}
    select
        {{ group_select }}'{{ alias }}' as alias,
        min({{ alias }}) as min_value,
        max({{ alias }}) as max_value,
        {{ quantiles(alias, cut_probabilities(bins)) }} as cuts
    from {{ source }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
    {%- if group_column %}
    group by {{ group_column }}
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

{{ prefix }}_cut_points as (
    select
        {{ group_select }}alias,
        min_value,
        max_value
        {%- for j in range(1, bins) %},
        {{ array_element('cuts', j) }} as cut{{ j }}
        {%- endfor %}
    from {{ prefix }}_quantiles
),

{{ prefix }}_thresholds as (
    select
        {{ group_select }}
        {%- for alias in aliases %}
        {%- set outer = loop %}
        {%- for j in range(1, bins) %}
        max(case when alias = '{{ alias }}' then
            case
                when cut{{ j }} > min_value and cut{{ j }} < max_value then cut{{ j }}
                when cut{{ j }} > min_value then {{ float_infinity() }}
                else -{{ float_infinity() }}
            end
        end) as {{ alias }}_t{{ j }}{{ "," if not (outer.last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    from {{ prefix }}_cut_points
    {%- if group_column %}
    group by {{ group_column }}
    {%- endif %}
)
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
    reading it once (a CTE referenced once is never recomputed, on any engine). -#}
{% macro column_index_cte(name, columns) -%}
{{ name }} as (
    {%- for column in columns %}
    select {{ loop.index }} as column_index, '{{ column }}' as column_name
    {{- " union all" if not loop.last }}
    {%- endfor %}
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
