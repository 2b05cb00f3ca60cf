{#- Population stability index of numeric columns between a baseline month and a current
    month (docs/architecture.md, Statistics; binning rules in binning.sql):

        PSI = sum over bins of (current share - baseline share) * ln(current / baseline)

    with equal-frequency cut points of the baseline month. Returns a query with one row
    per (baseline_month, current_month, column_name): baseline_rows, current_rows, psi.

    baseline: 'previous' (each month against the latest earlier month in the relation) or
              a month ('2025-03-01') every other month is compared with.
    current_month: a SQL date expression to compute one month only; none = every month.
    current_condition: a SQL condition on `psi_month` restricting the current months. -#}
{% macro psi_query(relation, columns, month_column='month', baseline='previous', bins=10,
                   current_month=none, current_condition=none) -%}
{%- if not columns -%}
    {#- nothing numeric to compare (or the relation is not built yet): an empty, typed result -#}
    {{ return(empty_stats_result(['baseline_month', 'current_month'], ['baseline_rows', 'current_rows'], ['psi'])) }}
{%- endif -%}
{%- set aliases = [] -%}
{%- for column in columns -%}{%- do aliases.append('c' ~ loop.index) -%}{%- endfor -%}
with

psi_source as {{ source_cte_materialization() }} (
    select
        {{ month_column }} as psi_month
        {%- for column in columns %},
        cast({{ column }} as {{ type_double() }}) as {{ aliases[loop.index0] }}
        {%- endfor %}
    from {{ relation }}
),

psi_months as (
    select distinct psi_month from psi_source
),

psi_pairs as (
    {%- if baseline == 'previous' %}
    select
        current_months.psi_month as current_month,
        max(earlier.psi_month) as baseline_month
    from psi_months as current_months
    inner join psi_months as earlier on earlier.psi_month < current_months.psi_month
    where
        {{ "current_months.psi_month = " ~ current_month if current_month is not none else "1 = 1" }}
        and {{ current_condition | replace('psi_month', 'current_months.psi_month')
               if current_condition else "1 = 1" }}
    group by current_months.psi_month
    {%- else %}
    select
        psi_month as current_month,
        cast('{{ baseline }}' as date) as baseline_month
    from psi_months
    where
        psi_month <> cast('{{ baseline }}' as date)
        and cast('{{ baseline }}' as date) in (select psi_month from psi_months)
        {%- if current_month is not none %}
        and psi_month = {{ current_month }}
        {%- endif %}
        {%- if current_condition %}
        and {{ current_condition }}
        {%- endif %}
    {%- endif %}
),

psi_sides as (
    select baseline_month, current_month, 'baseline' as side, baseline_month as data_month
    from psi_pairs
    union all
    select baseline_month, current_month, 'current' as side, current_month as data_month
    from psi_pairs
),

{{ binned_counts_ctes(
    'psi', 'psi_source', ['psi_month'], columns, aliases, bins,
    rows='psi_sides inner join psi_source on psi_sides.data_month = psi_source.psi_month',
    groups=['psi_sides.baseline_month', 'psi_sides.current_month', 'psi_sides.side'],
    group_column='psi_month', where='psi_month in (select baseline_month from psi_pairs)',
    threshold_on='psi_sides.baseline_month = psi_thresholds.psi_month') }},

psi_shares as (
    select
        baseline_month,
        current_month,
        side,
        column_name,
        n_rows
        {%- for count in bin_counts('le', 'n_rows', 'n_nonnull', bins) %},
        {{ floored_share(count, 'n_rows') }} as s{{ loop.index0 }}
        {%- endfor %}
    from psi_long
),

psi_sides_paired as (
    select
        baseline_month,
        current_month,
        column_name,
        max(case when side = 'baseline' then n_rows end) as baseline_rows,
        max(case when side = 'current' then n_rows end) as current_rows
        {%- for i in range(0, bins + 1) %},
        max(case when side = 'baseline' then s{{ i }} end) as baseline_s{{ i }},
        max(case when side = 'current' then s{{ i }} end) as current_s{{ i }}
        {%- endfor %}
    from psi_shares
    group by baseline_month, current_month, column_name
),

psi_result as (
    select
        baseline_month,
        current_month,
        column_name,
        baseline_rows,
        current_rows,
        {%- for i in range(0, bins + 1) %}
        {{ divergence_term('current_s' ~ i, 'baseline_s' ~ i) }}
        {{- " +" if not loop.last else " as psi" }}
        {%- endfor %}
    from psi_sides_paired
)

select * from psi_result
{%- endmacro %}

{#- PSI per group of two sides of one relation, for data that is not one table of months
    (psi_query): `relation` holds the columns `group_columns`, `side` ('baseline' or
    'current') and the numeric `value`; each group's current values are compared with its
    baseline values, binned as psi_query bins (binning.sql: cut points from the group's
    baseline rows). score_online_vs_batch: online scores against a batch month's.

    Returns one row per group holding both sides: group_columns, baseline_rows,
    current_rows, psi. The quantiles hold each group's baseline values in memory
    (threshold_ctes), so a baseline shared by several groups is cut once per group. -#}
{% macro psi_sides_query(relation, group_columns, value='value', side='side', bins=10) -%}
{%- set groups = group_columns | join(', ') -%}
with

psi_sides_source as (
    select
        {{ groups }},
        {{ side }} as psi_side,
        cast({{ value }} as {{ type_double() }}) as c1
    from {{ relation }}
),

{{ threshold_ctes('psi_sides', 'psi_sides_source', ['c1'], bins, group_column=groups,
                 where="psi_side = 'baseline'") }},

psi_sides_counts as (
    select
        {%- for column in group_columns %}
        psi_sides_source.{{ column }},
        {%- endfor %}
        psi_sides_source.psi_side,
        count(*) as n_rows,
        count(psi_sides_source.c1) as n_nonnull
        {%- for j in range(1, bins) %},
        {{ cumulative_count('psi_sides_source.c1', 'psi_sides_thresholds', 'c1', j) }} as le{{ j }}
        {%- endfor %}
    from psi_sides_source
    inner join psi_sides_thresholds
        on
        {%- for column in group_columns %}
        {{ "and " if not loop.first }}psi_sides_source.{{ column }} = psi_sides_thresholds.{{ column }}
        {%- endfor %}
    group by
        {%- for column in group_columns %}
        psi_sides_source.{{ column }},
        {%- endfor %}
        psi_sides_source.psi_side
),

psi_sides_shares as (
    select
        {{ groups }},
        psi_side,
        n_rows
        {%- for count in bin_counts('le', 'n_rows', 'n_nonnull', bins) %},
        {{ floored_share(count, 'n_rows') }} as s{{ loop.index0 }}
        {%- endfor %}
    from psi_sides_counts
),

psi_sides_paired as (
    select
        {{ groups }},
        max(case when psi_side = 'baseline' then n_rows end) as baseline_rows,
        max(case when psi_side = 'current' then n_rows end) as current_rows
        {%- for i in range(0, bins + 1) %},
        max(case when psi_side = 'baseline' then s{{ i }} end) as baseline_s{{ i }},
        max(case when psi_side = 'current' then s{{ i }} end) as current_s{{ i }}
        {%- endfor %}
    from psi_sides_shares
    group by {{ groups }}
),

psi_sides_result as (
    select
        {{ groups }},
        baseline_rows,
        current_rows,
        {%- for i in range(0, bins + 1) %}
        {{ divergence_term('current_s' ~ i, 'baseline_s' ~ i) }}
        {{- " +" if not loop.last else " as psi" }}
        {%- endfor %}
    from psi_sides_paired
    where current_rows is not null
)

select * from psi_sides_result
{%- endmacro %}
