{#- Column profiles ("table exam") of every column of a relation, per month, without a
    hand-written column list: one row per (month, column_name) with n_rows, n_null,
    null_share, n_distinct and, for numeric columns, min/max/mean and exact p25/p50/p75,
    for text columns the top values ('value:count, ...', most frequent first).
    where: an optional condition on the relation's rows (e.g. the months to profile).
    All aggregates come from one scan; only text top-values group per column. -#}
{% macro profile_query(relation, month_column='month', exclude=[], top_n=5, where=none) -%}
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
    {%- if where %}
    where {{ where }}
    {%- endif %}
),

profile_aggregates as (
    select
        profile_month,
        count(*) as n_rows
        {%- for alias, column, kind in profiled %},
        count({{ alias }}) as {{ alias }}_n,
        {{ count_distinct(alias) }} as {{ alias }}_d
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

{{ alias }}_top as (
    select
        profile_month,
        '{{ column }}' as column_name,
        {{ dbt.listagg(dbt.concat(['value', "':'", 'cast(n as ' ~ dbt.type_string() ~ ')']),
                       "', '", 'order by value_rank') }} as top_values
    from (
        select
            profile_month,
            value,
            n,
            row_number() over (partition by profile_month order by n desc, value asc) as value_rank
        from (
            select
                profile_month,
                cast({{ alias }} as {{ dbt.type_string() }}) as value,
                count(*) as n
            from profile_source
            where {{ alias }} is not null
            group by profile_month, {{ alias }}
        ) as value_counts
    ) as ranked
    where value_rank <= {{ top_n }}
    group by profile_month
),
{%- endfor %}

profile_top as (
    {%- for alias, column, kind in profiled if kind == 'text' %}
    select profile_month, column_name, top_values from {{ alias }}_top
    union all
    {%- endfor %}
    select
        cast(null as date) as profile_month,
        cast(null as {{ dbt.type_string() }}) as column_name,
        cast(null as {{ dbt.type_string() }}) as top_values
    where 1 = 0
),

profile_columns as (
    select column_index, column_name, column_kind
    from (
        values
        {%- for alias, column, kind in profiled %}
        ({{ loop.index }}, '{{ column }}', '{{ kind }}'){{ "," if not loop.last }}
        {%- endfor %}
    ) as profile_column_values (column_index, column_name, column_kind)
),

{%- set all_aliases = [] %}
{%- set numeric_aliases = [] %}
{%- for alias, column, kind in profiled %}
{%- do all_aliases.append(alias) %}
{%- if kind == 'numeric' %}{% do numeric_aliases.append(alias) %}{% endif %}
{%- endfor %}

profile_long as (
    select
        profile_aggregates.profile_month,
        profile_columns.column_name,
        profile_columns.column_kind,
        profile_aggregates.n_rows,
        profile_aggregates.n_rows
        - {{ pick_by_index('profile_columns.column_index', all_aliases, 'profile_aggregates.', '_n') }}
            as n_null,
        {{ pick_by_index('profile_columns.column_index', all_aliases, 'profile_aggregates.', '_d') }}
            as n_distinct
        {%- for stat in ['min', 'max', 'mean', 'q'] %},
        {% if numeric_aliases -%}
        {{ pick_by_index('profile_columns.column_index', numeric_aliases, 'profile_aggregates.', '_' ~ stat) }}
        {%- else -%}
        null
        {%- endif %} as {{ stat }}_value
        {%- endfor %}
    from profile_aggregates
    cross join profile_columns
),

final as (
    select
        profile_long.profile_month as month,
        profile_long.column_name,
        profile_long.column_kind,
        profile_long.n_rows,
        profile_long.n_null,
        cast(profile_long.n_null as {{ type_double() }}) / profile_long.n_rows as null_share,
        profile_long.n_distinct,
        profile_long.min_value,
        profile_long.max_value,
        profile_long.mean_value,
        {{ array_element('profile_long.q_value', 1) }} as p25,
        {{ array_element('profile_long.q_value', 2) }} as p50,
        {{ array_element('profile_long.q_value', 3) }} as p75,
        profile_top.top_values
    from profile_long
    left join profile_top
        on
            profile_long.profile_month = profile_top.profile_month
            and profile_long.column_name = profile_top.column_name
)

select * from final
{%- endmacro %}
