{#- Information value of every given column against a 0/1 label (docs/architecture.md,
    Statistics):

        WOE(bin) = ln(event share / non-event share)   (> 0: riskier than average)
        IV       = sum over bins of (event share - non-event share) * WOE

    Numeric columns use equal-frequency cut points of all the rows (binning.sql rules,
    nulls their own bin); text columns use one bin per value (null its own bin). A share
    of 0 is replaced by EPSILON (1e-4). Returns one row per column: column_name,
    column_kind, n_rows, n_events, iv.
    where: an optional SQL condition selecting the rows (e.g. "split = 'train'").
    view: true when `relation` is a view (source_cte_materialization). -#}
{% macro iv_query(relation, label, numeric_columns=[], text_columns=[], bins=10,
                  where=none, view=false) -%}
{%- if not numeric_columns and not text_columns -%}
    {{ return(empty_stats_result([], ['n_rows', 'n_events'], ['iv'])) }}
{%- endif -%}
{%- set numeric = [] -%}
{%- for column in numeric_columns %}{% do numeric.append(('n' ~ loop.index, column)) %}{% endfor -%}
{%- set text = [] -%}
{%- for column in text_columns %}{% do text.append(('t' ~ loop.index, column)) %}{% endfor -%}
with

iv_source as {{ source_cte_materialization(materialize=view) }} (
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

{%- set numeric_aliases = [] %}
{%- for alias, column in numeric %}{% do numeric_aliases.append(alias) %}{% endfor %}
{{ binned_counts_ctes('iv', 'iv_source', ['iv_label'], numeric_columns, numeric_aliases, bins,
                     rows='iv_source', groups=['iv_source.iv_label']) }},

iv_numeric_bins as (
    select
        column_name
        {%- for count in bin_counts('le', 'n_rows', 'n_nonnull', bins) %},
        sum(case when iv_label = 1 then {{ count }} else 0 end) as events{{ loop.index0 }},
        sum(case when iv_label = 0 then {{ count }} else 0 end) as nonevents{{ loop.index0 }}
        {%- endfor %}
    from iv_long
    group by column_name
),

iv_numeric as (
    select
        iv_numeric_bins.column_name,
        'numeric' as column_kind,
        {%- for i in range(0, bins + 1) %}
        {{ divergence_term(
            floored_share('iv_numeric_bins.events' ~ i, 'iv_totals.n_events'),
            floored_share('iv_numeric_bins.nonevents' ~ i, 'iv_totals.n_nonevents')) }}
        {{- " +" if not loop.last else " as iv" }}
        {%- endfor %}
    from iv_numeric_bins
    cross join iv_totals
),
{%- endif %}
{%- if text %}

iv_text_bins as (
    {%- for alias, column in text %}
    select
        '{{ column }}' as column_name,
        sum(iv_label) as events,
        count(*) - sum(iv_label) as nonevents
    from iv_source
    group by {{ alias }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

iv_text as (
    select
        iv_text_bins.column_name,
        'text' as column_kind,
        sum({{ divergence_term(floored_share('iv_text_bins.events', 'iv_totals.n_events'),
                               floored_share('iv_text_bins.nonevents', 'iv_totals.n_nonevents')) }})
            as iv
    from iv_text_bins
    cross join iv_totals
    group by iv_text_bins.column_name
),
{%- endif %}

iv_result as (
    select
        iv_columns_result.column_name,
        iv_columns_result.column_kind,
        iv_totals.n_rows,
        -- a sum of integers is HUGEINT on DuckDB: bigint, as empty_stats_result's
        cast(iv_totals.n_events as {{ dbt.type_bigint() }}) as n_events,
        iv_columns_result.iv
    from (
        {%- if numeric %}
        select column_name, column_kind, iv from iv_numeric
        {%- endif %}
        {%- if numeric and text %}
        union all
        {%- endif %}
        {%- if text %}
        select column_name, column_kind, iv from iv_text
        {%- endif %}
    ) as iv_columns_result
    cross join iv_totals
)

select * from iv_result
{%- endmacro %}
