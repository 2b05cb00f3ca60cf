{#- Information value of every given column against a 0/1 label (DESIGN.md):

        WOE(bin) = ln(event share / non-event share)   (> 0: riskier than average)
        IV       = sum over bins of (event share - non-event share) * WOE

    Numeric columns use equal-frequency cut points of all the rows (binning.sql rules,
    nulls their own bin); text columns use one bin per value (null its own bin). A share
    of 0 is replaced by EPSILON (1e-4). Returns one row per column: column_name,
    column_kind, n_rows, n_events, iv.
    where: an optional SQL condition selecting the rows (e.g. "split = 'train'"). -#}
{% macro iv_query(relation, label, numeric_columns=[], text_columns=[], bins=10,
                  where=none) -%}
{%- if not numeric_columns and not text_columns -%}
    {{ return(empty_stats_result([], ['n_rows', 'n_events'], ['iv'])) }}
{%- endif -%}
{%- set numeric = [] -%}
{%- for column in numeric_columns %}{% do numeric.append(('n' ~ loop.index, column)) %}{% endfor -%}
{%- set text = [] -%}
{%- for column in text_columns %}{% do text.append(('t' ~ loop.index, column)) %}{% endfor -%}
with

iv_source as (
    select
        cast({{ label }} as integer) as iv_label
        {%- for alias, column in numeric %},
        cast({{ column }} as {{ type_double() }}) as {{ alias }}
        {%- endfor %}
        {%- for alias, column in text %},
        cast({{ column }} as {{ dbt.type_string() }}) as {{ alias }}
        {%- endfor %}
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
),

iv_totals as (
    select
        count(*) as n_rows,
        sum(iv_label) as n_events,
        count(*) - sum(iv_label) as n_nonevents
    from iv_source
),
{%- if numeric %}

iv_cuts as (
    select
        {%- for alias, column in numeric %}
        {{ cut_point_aggregates(alias, alias, bins) }}{{ "," if not loop.last }}
        {%- endfor %}
    from iv_source
),

iv_counts as (
    select
        iv_source.iv_label,
        count(*) as n_rows
        {%- for alias, column in numeric %},
        count(iv_source.{{ alias }}) as {{ alias }}_n
        {%- for j in range(1, bins) %},
        {{ cumulative_count('iv_source.' ~ alias, 'iv_cuts', alias, j) }} as {{ alias }}_le{{ j }}
        {%- endfor %}
        {%- endfor %}
    from iv_source
    cross join iv_cuts
    group by iv_source.iv_label
),

iv_numeric_bins as (
    {%- for alias, column in numeric %}
    {%- set outer = loop %}
    {%- for count in bin_counts(alias ~ '_le', 'n_rows', alias ~ '_n', bins) %}
    select
        '{{ column }}' as column_name,
        'numeric' as column_kind,
        {{ loop.index0 }} as bin,
        sum(case when iv_label = 1 then {{ count }} else 0 end) as events,
        sum(case when iv_label = 0 then {{ count }} else 0 end) as nonevents
    from iv_counts
    {{ "union all" if not (outer.last and loop.last) }}
    {%- endfor %}
    {%- endfor %}
),
{%- endif %}
{%- if text %}

iv_text_bins as (
    {%- for alias, column in text %}
    select
        '{{ column }}' as column_name,
        'text' as column_kind,
        {{ alias }} as bin,
        sum(iv_label) as events,
        count(*) - sum(iv_label) as nonevents
    from iv_source
    group by {{ alias }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
),
{%- endif %}

iv_bins as (
    {%- if numeric %}
    select column_name, column_kind, events, nonevents from iv_numeric_bins
    {%- endif %}
    {%- if numeric and text %}
    union all
    {%- endif %}
    {%- if text %}
    select column_name, column_kind, events, nonevents from iv_text_bins
    {%- endif %}
),

iv_terms as (
    select
        iv_bins.column_name,
        iv_bins.column_kind,
        {{ divergence_term(floored_share('iv_bins.events', 'iv_totals.n_events'),
                           floored_share('iv_bins.nonevents', 'iv_totals.n_nonevents')) }}
            as iv_term
    from iv_bins
    cross join iv_totals
),

iv_result as (
    select
        iv_terms.column_name,
        iv_terms.column_kind,
        iv_totals.n_rows,
        iv_totals.n_events,
        sum(iv_terms.iv_term) as iv
    from iv_terms
    cross join iv_totals
    group by iv_terms.column_name, iv_terms.column_kind, iv_totals.n_rows, iv_totals.n_events
)

select * from iv_result
{%- endmacro %}
