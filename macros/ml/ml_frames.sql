{#- The training frame and scoring input of a telco scenario: every telco scenario selects
    the same wide table, so the frame logic lives once here.

    training_frame: wide-table features of month m joined to the scenario's label for m
    (observed in m+1), for the months whose label matured by the score month.
    `split` = 'oot' for the month just before the score month (out-of-time test), else
    'test' for the var test_share of ids by a stable md5 bucket, else 'train' (an id is
    never on both in-time sides). Materialized as training_frame_materialization says. -#}
{% macro training_frame(target_model, label) -%}
{{ config(materialized=training_frame_materialization()) }}
with

wide as (
    select * from {{ ref('subscriber_month_wide') }}
),

target as (
    select subscriber_id, month, label_month, {{ label }}
    from {{ ref(target_model) }}
),

score_month as (
    select {{ score_month(ref('int_calendar_months')) }} as month
),

final as (
    select
        wide.*,
        target.{{ label }},
        case
            when target.label_month = score_month.month then 'oot'
            when
                {{ hash_bucket('wide.subscriber_id', 100) }}
                < {{ (var('test_share') * 100) | round | int }}
                then 'test'
            else 'train'
        end as split
    from wide
    inner join target
        on
            wide.subscriber_id = target.subscriber_id
            and wide.month = target.month
    cross join score_month
    where target.label_month <= score_month.month
)

select * from final
{%- endmacro %}

{#- scoring_frame: the wide table of the score month (var score_month, default the
    calendar's latest month: a month not yet in the wide table scores nothing). -#}
{% macro scoring_frame() -%}
{{ month_scoring_frame('subscriber_month_wide', months_model='int_calendar_months') }}
{%- endmacro %}

{#- cv_training_frame: for scenarios whose label belongs to the feature month itself (the
    bank's: month m's figures against earlier months), evaluated by cross-validation
    instead of an out-of-time month (registry out_of_time: false, cv_folds). The rows of
    `features_model` up to the score month joined to `target_model`'s non-null `label` of
    the same (entity, month); `exclude` drops the columns the label is made of. `split` =
    'test' for the var test_share of ids by the stable md5 bucket, else 'train' (an id is
    never on both sides; no 'oot'). -#}
{% macro cv_training_frame(features_model, target_model, label, entity_id, exclude=[]) -%}
{{ config(materialized=training_frame_materialization()) }}
with

features as (
    select * from {{ ref(features_model) }}
),

target as (
    select {{ entity_id }}, month, {{ label }}
    from {{ ref(target_model) }}
    where {{ label }} is not null
),

score_month as (
    select {{ score_month(ref(features_model)) }} as month
),

final as (
    select
        {{ star_except(ref(features_model), 'features', exclude) }},
        target.{{ label }},
        case
            when
                {{ hash_bucket('features.' ~ entity_id, 100) }}
                < {{ (var('test_share') * 100) | round | int }}
                then 'test'
            else 'train'
        end as split
    from features
    inner join target
        on
            features.{{ entity_id }} = target.{{ entity_id }}
            and features.month = target.month
    cross join score_month
    where features.month <= score_month.month
)

select * from final
{%- endmacro %}

{#- month_scoring_frame: the score month's rows of a features model (var score_month,
    default the latest month of `months_model`, itself by default), without the `exclude`
    columns. -#}
{% macro month_scoring_frame(features_model, exclude=[], months_model=none) -%}
with

features as (
    select * from {{ ref(features_model) }}
),

score_month as (
    select {{ score_month(ref(months_model or features_model)) }} as month
),

final as (
    select {{ star_except(ref(features_model), 'features', exclude) }}
    from features
    inner join score_month on features.month = score_month.month
)

select * from final
{%- endmacro %}

{#- Months an incremental month-grained model (re)builds: var score_month when set (that
    month is replaced, others untouched), else the latest month already built and any
    newer one. A full refresh builds every month. -#}
{% macro incremental_months_filter(month_expr, this_month_column='month') -%}
    {%- if is_incremental() -%}
        {%- if score_month_var() -%}
            {{ month_expr }} = cast('{{ score_month_var() }}' as date)
        {%- else -%}
            {{ month_expr }} >= {{ latest_built_month(this_month_column) }}
        {%- endif -%}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- The latest month an incremental model holds; on an empty table (built before any
    data arrived) the earliest date, so the next run builds every month. -#}
{% macro latest_built_month(this_month_column='month') -%}
    coalesce((select max({{ this_month_column }}) from {{ this }}), cast('1900-01-01' as date))
{%- endmacro %}

{#- Input months of an incremental month-grained window model: the months it rebuilds
    (incremental_months_filter) and the `lookback` months before them, which its windows
    (lags, three-month averages and sums) read; on a full refresh every month. A new
    month thus costs the months it can change, not the history. -#}
{% macro window_input_months_filter(month_expr, lookback, this_month_column='month') -%}
    {%- if is_incremental() -%}
        {%- if score_month_var() -%}
            {%- set first = "cast('" ~ score_month_var() ~ "' as date)" -%}
        {%- else -%}
            {%- set first = latest_built_month(this_month_column) -%}
        {%- endif -%}
        {{ month_expr }} >= {{ add_months(first, -lookback) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- Months a monitoring mart computes: incrementally like incremental_months_filter; on
    its first build (or --full-refresh) the latest var monitoring_backfill_months months
    of `source`, so a first build on years of history stays bounded (the cut points sort
    each baseline month's values); history then accumulates one month per run. -#}
{% macro monitoring_months_filter(month_expr, this_month_column, source, source_month='month') -%}
    {%- if is_incremental() -%}
        {{ incremental_months_filter(month_expr, this_month_column) }}
    {%- else -%}
        {{ month_expr }} > {{ add_months('(select max(' ~ source_month ~ ') from ' ~ source ~ ')',
                                         -var('monitoring_backfill_months')) }}
    {%- endif -%}
{%- endmacro %}

{#- The training frames (training_frame, cv_training_frame) are views on DuckDB and
    PostgreSQL: a month's build costs nothing and rewrites no history; the join is computed
    when training, feature_iv or score_outcomes read them (as tables at 1M subscribers
    they cost 47-65 s each every month, every labelled month rewritten). On Spark they stay
    tables: their parquet files are what readers without a Spark session (other tools, the
    tests' parity reader) see, and every Spark job over a view would recompute the join. -#}
{% macro training_frame_materialization() -%}
    {{ return(adapter.dispatch('training_frame_materialization', 'scorehouse')()) }}
{%- endmacro %}

{% macro default__training_frame_materialization() -%}
    {{ return('view') }}
{%- endmacro %}

{% macro spark__training_frame_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#- The config of a model incremental by month (the wide table, the window models under
    it, the feature monitoring marts), its month in `month_column`: a run replaces the
    months incremental_months_filter names, Spark by overwriting their partitions.
    Called first in the model. -#}
{% macro month_incremental_config(month_column='month') -%}
    {{ config(
        materialized='incremental',
        incremental_strategy=month_replace_strategy(),
        unique_key=month_column,
        partition_by=[month_column],
        on_schema_change='append_new_columns',
    ) }}
{%- endmacro %}

{#- The incremental strategy that replaces whole months on each engine. -#}
{% macro month_replace_strategy() -%}
    {{ return(adapter.dispatch('month_replace_strategy', 'scorehouse')()) }}
{%- endmacro %}

{% macro default__month_replace_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__month_replace_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}
