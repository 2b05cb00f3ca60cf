-- IV of every wide-table feature against each scenario's label, on the scenario's
-- in-time training rows (split = 'train') of the latest var iv_months months: the
-- ranking that feature screening (iv_limit, with the model factory) starts from.
-- Add a scenario here when you add its training set. Built when models train (tag
-- telco_training: `scorehouse run`'s train stage, or `dbt build --selector
-- telco_training` after `scorehouse train`), not monthly: it reads every scenario's
-- labelled history (101 s of the 1M month's 301 s features build before).
{{ config(tags=['telco_training']) }}
{%- set scenarios = [
    ('churn', 'churn_training_set', 'churned'),
    ('package_upsell', 'package_upsell_training_set', 'upsold'),
    ('data_addon', 'data_addon_training_set', 'bought_addon'),
] %}
{%- set not_features = ['subscriber_id', 'month', 'split'] %}
with

{% for scenario, training_set, label in scenarios %}
{%- set relation = ref(training_set) %}
{%- set skip = not_features + [label] %}
{{ scenario }}_iv as (
    {{ iv_query(relation, label,
                columns_of_kind(relation, 'numeric', exclude=skip),
                columns_of_kind(relation, 'text', exclude=skip),
                where="split = 'train' and month > "
                      ~ add_months("(select max(month) from " ~ relation ~ " where split = 'train')",
                                   -var('iv_months')),
                view=true) }}
),
{% endfor %}

combined as (
    {%- for scenario, training_set, label in scenarios %}
    select
        '{{ scenario }}' as scenario,
        '{{ label }}' as label,
        column_name,
        column_kind,
        n_rows,
        n_events,
        iv
    from {{ scenario }}_iv
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

final as (
    select
        *,
        -- bigint as the contract says: row_number is int on Spark
        cast(
            row_number() over (partition by scenario order by iv desc, column_name asc)
            as {{ dbt.type_bigint() }}
        ) as iv_rank
    from combined
)

select * from final
