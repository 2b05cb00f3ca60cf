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
    inside the reference range) is made to count 0 (at the bottom) or every non-null row
    (at the top), which leaves an empty bin on both sides and merges its neighbours. -#}

{% macro stats_epsilon() -%}1e-4{%- endmacro %}

{% macro cut_probabilities(bins) -%}
    {%- set probs = [] -%}
    {%- for j in range(1, bins) -%}
        {%- do probs.append(j / bins) -%}
    {%- endfor -%}
    {{ return(probs) }}
{%- endmacro %}

{#- Aggregates over the reference rows: <alias>_min, <alias>_max, <alias>_q (cut array). -#}
{% macro cut_point_aggregates(expr, alias, bins) -%}
    min({{ expr }}) as {{ alias }}_min,
    max({{ expr }}) as {{ alias }}_max,
    {{ quantiles(expr, cut_probabilities(bins)) }} as {{ alias }}_q
{%- endmacro %}

{#- count(x <= c(j)) with the inactive-cut rule above; `cuts` is the relation alias holding
    <alias>_min/_max/_q, `extra` an optional condition (e.g. the label). -#}
{% macro cumulative_count(expr, cuts, alias, j, extra='1 = 1') -%}
    {%- set cut = array_element(cuts ~ '.' ~ alias ~ '_q', j) -%}
    count(case
        when {{ extra }} and {{ cut }} > {{ cuts }}.{{ alias }}_min
            and {{ cut }} < {{ cuts }}.{{ alias }}_max and {{ expr }} <= {{ cut }} then 1
        when {{ extra }} and {{ cut }} >= {{ cuts }}.{{ alias }}_max
            and {{ cut }} > {{ cuts }}.{{ alias }}_min and {{ expr }} is not null then 1
    end)
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
