{#- The tables python_scoring writes (DESIGN.md contract), created if missing at the start of
    every dbt invocation, so that `dbt build` works before anything was scored and the
    contract's column names and types live in one reviewed place. Python inserts into
    them and checks their columns; it never creates them. -#}
{% macro create_ml_contract_tables() -%}
    {{ return(adapter.dispatch('create_ml_contract_tables', 'scorehouse')()) }}
{%- endmacro %}

{% macro ml_contract_columns() -%}
    {%- set reasons = [] -%}
    {%- for i in range(1, var('max_reasons') + 1) -%}
        {%- do reasons.append(('reason_' ~ i, dbt.type_string())) -%}
    {%- endfor -%}
    {{ return({
        'model_scores': [
            ('model_name', dbt.type_string()),
            ('model_version', dbt.type_string()),
            ('score_month', 'date'),
            ('entity_id', dbt.type_string()),
            ('score', type_double()),
        ] + reasons + [
            ('scored_at', dbt.type_timestamp()),
        ],
        'training_runs': [
            ('run_id', dbt.type_string()),
            ('model_name', dbt.type_string()),
            ('model_version', dbt.type_string()),
            ('algorithm', dbt.type_string()),
            ('train_months', dbt.type_string()),
            ('oot_month', 'date'),
            ('rows_available', dbt.type_bigint()),
            ('sample_fraction', type_double()),
            ('data_fingerprint', dbt.type_string()),
            ('rows_train', dbt.type_bigint()),
            ('rows_test', dbt.type_bigint()),
            ('rows_oot', dbt.type_bigint()),
            ('positive_rate_train', type_double()),
            ('auc_train', type_double()),
            ('ks_train', type_double()),
            ('auc_test', type_double()),
            ('ks_test', type_double()),
            ('auc_oot', type_double()),
            ('ks_oot', type_double()),
            ('cv_auc', type_double()),
            ('features', dbt.type_string()),
            ('dropped_features', dbt.type_string()),
            ('derived_features', dbt.type_string()),
            ('params', dbt.type_string()),
            ('artifact_sha256', dbt.type_string()),
            ('library_versions', dbt.type_string()),
            ('started_at', dbt.type_timestamp()),
            ('finished_at', dbt.type_timestamp()),
        ],
        'score_baselines': [
            ('run_id', dbt.type_string()),
            ('model_name', dbt.type_string()),
            ('model_version', dbt.type_string()),
            ('bin', dbt.type_int()),
            ('upper_edge', type_double()),
            ('baseline_share', type_double()),
        ],
        'scoring_locks': [
            ('model_name', dbt.type_string()),
            ('score_month', 'date'),
            ('run_id', dbt.type_string()),
            ('host', dbt.type_string()),
            ('pid', dbt.type_bigint()),
            ('started_at', dbt.type_timestamp()),
        ],
        'model_metrics': [
            ('run_id', dbt.type_string()),
            ('model_name', dbt.type_string()),
            ('model_version', dbt.type_string()),
            ('split', dbt.type_string()),
            ('metric', dbt.type_string()),
            ('value', type_double()),
        ],
    }) }}
{%- endmacro %}

{% macro default__create_ml_contract_tables() -%}
    {%- set schema = var('ml_schema', 'ml') -%}
    create schema if not exists {{ schema }};
    {%- for table, columns in ml_contract_columns().items() %}
    create table if not exists {{ schema }}.{{ table }} (
        {%- for name, type in columns %}
        {{ name }} {{ type }}{{ "," if not loop.last }}
        {%- endfor %}
    );
    {#- a warehouse created by an older scorehouse gets the columns added since #}
    {%- for name, type in columns %}
    alter table {{ schema }}.{{ table }} add column if not exists {{ name }} {{ type }};
    {%- endfor %}
    {%- endfor %}
{%- endmacro %}
