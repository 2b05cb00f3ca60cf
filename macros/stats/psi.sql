{#- Population stability index of numeric columns between a baseline month and a current
    month (DESIGN.md; binning rules in binning.sql):

        PSI = sum over bins of (current share - baseline share) * ln(current / baseline)

    with equal-frequency cut points of the baseline month. Returns a query with one row
    per (baseline_month, current_month, column_name): baseline_rows, current_rows, psi.

    baseline: 'previous' (each month against the latest earlier month in the relation) or
              a month ('2025-03-01') every other month is compared with.
    current_month: a SQL date expression to compute one month only; none = every month. -#}
{% macro psi_query(relation, columns, month_column='month', baseline='previous', bins=10,
                   current_month=none) -%}
{%- if not columns -%}
    {#- nothing numeric to compare (or the relation is not built yet): an empty, typed result -#}
    {{ return(empty_stats_result(['baseline_month', 'current_month'], ['baseline_rows', 'current_rows'], ['psi'])) }}
{%- endif -%}
{%- set aliases = [] -%}
{%- for column in columns -%}{%- do aliases.append('c' ~ loop.index) -%}{%- endfor -%}
with

psi_source as (
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
    {%- if current_month is not none %}
    where current_months.psi_month = {{ current_month }}
    {%- endif %}
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
    {%- endif %}
),

psi_cuts as (
    select
        psi_month as baseline_month
        {%- for alias in aliases %},
        {{ cut_point_aggregates(alias, alias, bins) }}
        {%- endfor %}
    from psi_source
    where psi_month in (select baseline_month from psi_pairs)
    group by psi_month
),

psi_sides as (
    select baseline_month, current_month, 'baseline' as side, baseline_month as data_month
    from psi_pairs
    union all
    select baseline_month, current_month, 'current' as side, current_month as data_month
    from psi_pairs
),

psi_counts as (
    select
        psi_sides.baseline_month,
        psi_sides.current_month,
        psi_sides.side,
        count(*) as n_rows
        {%- for alias in aliases %},
        count(psi_source.{{ alias }}) as {{ alias }}_n
        {%- for j in range(1, bins) %},
        {{ cumulative_count('psi_source.' ~ alias, 'psi_cuts', alias, j) }} as {{ alias }}_le{{ j }}
        {%- endfor %}
        {%- endfor %}
    from psi_sides
    inner join psi_source on psi_sides.data_month = psi_source.psi_month
    inner join psi_cuts on psi_sides.baseline_month = psi_cuts.baseline_month
    group by psi_sides.baseline_month, psi_sides.current_month, psi_sides.side
),

psi_shares as (
    {%- for alias in aliases %}
    {%- set counts = bin_counts(alias ~ '_le', 'n_rows', alias ~ '_n', bins) %}
    select
        baseline_month,
        current_month,
        side,
        '{{ columns[loop.index0] }}' as column_name,
        n_rows
        {%- for count in counts %},
        {{ floored_share(count, 'n_rows') }} as s{{ loop.index0 }}
        {%- endfor %}
    from psi_counts
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

psi_result as (
    select
        baseline.baseline_month,
        baseline.current_month,
        baseline.column_name,
        baseline.n_rows as baseline_rows,
        current_side.n_rows as current_rows,
        {%- for i in range(0, bins + 1) %}
        {{ divergence_term('current_side.s' ~ i, 'baseline.s' ~ i) }}
        {{- " +" if not loop.last else " as psi" }}
        {%- endfor %}
    from psi_shares as baseline
    inner join psi_shares as current_side
        on
            baseline.baseline_month = current_side.baseline_month
            and baseline.current_month = current_side.current_month
            and baseline.column_name = current_side.column_name
    where baseline.side = 'baseline' and current_side.side = 'current'
)

select * from psi_result
{%- endmacro %}
