{#- Column profiles ("table exam") of every column of a relation, per month, without a
    hand-written column list: one row per (month, column_name) with n_rows, n_null,
    null_share, n_distinct and, for numeric columns, min/max/mean and exact p25/p50/p75,
    for text columns the top values ('value:count, ...', most frequent first).
    All aggregates come from one scan; only text top-values group per column. -#}
{% macro profile_query(relation, month_column='month', exclude=[], top_n=5) -%}
{%- set skip = exclude + [month_column] -%}
{%- set numeric = columns_of_kind(relation, 'numeric', skip) -%}
{%- set text = columns_of_kind(relation, 'text', skip) -%}
{%- set other = columns_of_kind(relation, 'other', skip) -%}
{%- set profiled = [] -%}
{%- for column in numeric %}{% do profiled.append(('n' ~ loop.index, column, 'numeric')) %}{% endfor -%}
{%- for column in text %}{% do profiled.append(('t' ~ loop.index, column, 'text')) %}{% endfor -%}
{%- for column in other %}{% do profiled.append(('o' ~ loop.index, column, 'other')) %}{% endfor -%}
{%- if not profiled -%}
    {{ return(empty_stats_result(['month'], ['n_rows', 'n_null', 'n_distinct'],
                                 ['null_share', 'min_value', 'max_value', 'mean_value', 'p25',
                                  'p50', 'p75'])) }}
{%- endif -%}
with

profile_source as (
    select
        {{ month_column }} as profile_month
        {%- for alias, column, kind in profiled %},
        {{ column }} as {{ alias }}
        {%- endfor %}
    from {{ relation }}
),

profile_aggregates as (
    select
        profile_month,
        count(*) as n_rows
        {%- for alias, column, kind in profiled %},
        count({{ alias }}) as {{ alias }}_n,
        count(distinct {{ alias }}) as {{ alias }}_d
        {%- if kind == 'numeric' %},
        min(cast({{ alias }} as {{ type_double() }})) as {{ alias }}_min,
        max(cast({{ alias }} as {{ type_double() }})) as {{ alias }}_max,
        avg(cast({{ alias }} as {{ type_double() }})) as {{ alias }}_mean,
        {{ quantiles('cast(' ~ alias ~ ' as ' ~ type_double() ~ ')', [0.25, 0.5, 0.75]) }}
            as {{ alias }}_q
        {%- endif %}
        {%- endfor %}
    from profile_source
    group by profile_month
),

{%- for alias, column, kind in profiled if kind == 'text' %}

{{ alias }}_counts as (
    select
        profile_month,
        cast({{ alias }} as {{ dbt.type_string() }}) as value,
        count(*) as n
    from profile_source
    where {{ alias }} is not null
    group by profile_month, {{ alias }}
),

{{ alias }}_top as (
    select
        profile_month,
        {{ dbt.listagg(dbt.concat(['value', "':'", 'cast(n as ' ~ dbt.type_string() ~ ')']),
                       "', '", 'order by value_rank') }} as top_values
    from (
        select
            profile_month,
            value,
            n,
            row_number() over (partition by profile_month order by n desc, value asc) as value_rank
        from {{ alias }}_counts
    ) as ranked
    where value_rank <= {{ top_n }}
    group by profile_month
),
{%- endfor %}

profile_long as (
    {%- for alias, column, kind in profiled %}
    select
        profile_aggregates.profile_month as month,
        '{{ column }}' as column_name,
        '{{ kind }}' as column_kind,
        profile_aggregates.n_rows,
        profile_aggregates.n_rows - profile_aggregates.{{ alias }}_n as n_null,
        cast(profile_aggregates.n_rows - profile_aggregates.{{ alias }}_n as {{ type_double() }})
        / profile_aggregates.n_rows as null_share,
        profile_aggregates.{{ alias }}_d as n_distinct,
        {%- if kind == 'numeric' %}
        profile_aggregates.{{ alias }}_min as min_value,
        profile_aggregates.{{ alias }}_max as max_value,
        profile_aggregates.{{ alias }}_mean as mean_value,
        {{ array_element('profile_aggregates.' ~ alias ~ '_q', 1) }} as p25,
        {{ array_element('profile_aggregates.' ~ alias ~ '_q', 2) }} as p50,
        {{ array_element('profile_aggregates.' ~ alias ~ '_q', 3) }} as p75,
        {%- else %}
        cast(null as {{ type_double() }}) as min_value,
        cast(null as {{ type_double() }}) as max_value,
        cast(null as {{ type_double() }}) as mean_value,
        cast(null as {{ type_double() }}) as p25,
        cast(null as {{ type_double() }}) as p50,
        cast(null as {{ type_double() }}) as p75,
        {%- endif %}
        {%- if kind == 'text' %}
        {{ alias }}_top.top_values
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as top_values
        {%- endif %}
    from profile_aggregates
    {%- if kind == 'text' %}
    left join {{ alias }}_top on profile_aggregates.profile_month = {{ alias }}_top.profile_month
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
)

select * from profile_long
{%- endmacro %}
