{#- The tables python_scoring writes (docs/architecture.md, Contracts), created if missing at
    the start of every dbt invocation, so that `dbt build` works before anything was scored
    and the contract's column names and types live in one reviewed place. Python inserts into
    them and checks their columns; it never creates them. -#}
{% macro create_ml_contract_tables() -%}
    {{ return(adapter.dispatch('create_ml_contract_tables', 'scorehouse')()) }}
{%- endmacro %}

{% macro ml_contract_columns() -%}
    {#- per reason k: the feature's name, the customer's value of it (before encoding) and
        its contribution in the model's units (python_scoring/contract.py, reason_fields) -#}
    {%- set reasons = [] -%}
    {%- for i in range(1, var('max_reasons') + 1) -%}
        {%- do reasons.append(('reason_' ~ i, dbt.type_string())) -%}
        {%- do reasons.append(('reason_' ~ i ~ '_value', dbt.type_string())) -%}
        {%- do reasons.append(('reason_' ~ i ~ '_contribution', type_double())) -%}
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
        'model_curves': [
            ('run_id', dbt.type_string()),
            ('model_name', dbt.type_string()),
            ('model_version', dbt.type_string()),
            ('split', dbt.type_string()),
            ('curve', dbt.type_string()),
            ('point', dbt.type_int()),
            ('x', type_double()),
            ('y', type_double()),
        ],
        'customer_clusters': [
            ('rule_set', dbt.type_string()),
            ('run_id', dbt.type_string()),
            ('entity_id', dbt.type_string()),
            ('cluster', dbt.type_int()),
            ('clustered_at', dbt.type_timestamp()),
        ],
        'association_rules': [
            ('rule_set', dbt.type_string()),
            ('run_id', dbt.type_string()),
            ('cluster', dbt.type_int()),
            ('rule_id', dbt.type_int()),
            ('antecedents', dbt.type_string()),
            ('consequents', dbt.type_string()),
            ('antecedent_count', dbt.type_int()),
            ('consequent_count', dbt.type_int()),
            ('support', type_double()),
            ('confidence', type_double()),
            ('lift', type_double()),
            ('leverage', type_double()),
            ('conviction', type_double()),
            ('created_at', dbt.type_timestamp()),
        ],
        'association_rule_items': [
            ('rule_set', dbt.type_string()),
            ('run_id', dbt.type_string()),
            ('cluster', dbt.type_int()),
            ('rule_id', dbt.type_int()),
            ('side', dbt.type_string()),
            ('item', dbt.type_string()),
        ],
        'online_requests': [
            ('request_id', dbt.type_string()),
            ('received_at', dbt.type_timestamp()),
            ('request_month', 'date'),
            ('endpoint', dbt.type_string()),
            ('model_name', dbt.type_string()),
            ('model_version', dbt.type_string()),
            ('status', dbt.type_int()),
            ('latency_ms', type_double()),
            ('error', dbt.type_string()),
            ('row_index', dbt.type_int()),
            ('entity_id', dbt.type_string()),
            ('score', type_double()),
            ('features', dbt.type_string()),
            ('spool_file', dbt.type_string()),
            ('ingested_at', dbt.type_timestamp()),
        ],
        'erasure_requests': [
            ('entity_id', dbt.type_string()),
            ('requested_at', dbt.type_timestamp()),
            ('requested_by', dbt.type_string()),
            ('reason', dbt.type_string()),
        ],
        'audit_log': [
            ('started_at', dbt.type_timestamp()),
            ('os_user', dbt.type_string()),
            ('host', dbt.type_string()),
            ('command', dbt.type_string()),
            ('arguments', dbt.type_string()),
            ('outcome', dbt.type_string()),
            ('message', dbt.type_string()),
            ('duration_s', type_double()),
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

{#- Spark runs one statement per call, so each statement runs here and the hook itself
    renders nothing. Parquet tables (the format every scorehouse table uses on Spark);
    model_scores is partitioned by (model_name, score_month), so that python_scoring
    replaces one (model, month) slice with an `insert overwrite ... partition (...)`,
    customer_clusters by rule_set (a rule set's clusters replaced the same way; the two
    rule tables are small and rewritten whole) and online_requests by spool_file (an
    ingested spool file's rows replaced the same way). Spark moves partition columns to
    the end of a table's schema: model_scores reads model_version, entity_id, score,
    reason_*, scored_at, model_name, score_month there (customer_clusters: run_id,
    entity_id, cluster, clustered_at, rule_set; online_requests: spool_file last), so
    write them by column name. Spark has no `add column if not exists`: a table created by
    an older scorehouse gets its missing columns from one `add columns` (after its other
    data columns: scoring orders what its executors return by the table's own columns). -#}
{% macro spark__create_ml_contract_tables() -%}
    {%- if execute -%}
        {%- set schema = var('ml_schema', 'ml') -%}
        {%- set partitions = {
            'model_scores': ['model_name', 'score_month'],
            'customer_clusters': ['rule_set'],
            'online_requests': ['spool_file'],
        } -%}
        {%- do run_query('create schema if not exists ' ~ schema) -%}
        {%- for table, columns in ml_contract_columns().items() -%}
            {%- set relation = api.Relation.create(schema=schema, identifier=table, type='table') -%}
            {#- listed first: describing a missing table makes Spark log an ERROR with its
                Java stack trace, though the absence is expected on a new warehouse -#}
            {%- set found = adapter.get_relation(database=none, schema=schema, identifier=table) -%}
            {%- set existing = (adapter.get_columns_in_relation(found) if found else [])
                               | map(attribute='name') | map('lower') | list -%}
            {%- if not existing -%}
                {%- set ddl -%}
                    create table if not exists {{ relation }} (
                        {%- for name, type in columns %}
                        {{ name }} {{ type }}{{ "," if not loop.last }}
                        {%- endfor %}
                    )
                    using parquet
                    {%- if table in partitions %}
                    partitioned by ({{ partitions[table] | join(', ') }})
                    {%- endif %}
                {%- endset -%}
                {%- do run_query(ddl) -%}
            {%- else -%}
                {%- set missing = [] -%}
                {%- for name, type in columns if name | lower not in existing -%}
                    {%- do missing.append(name ~ ' ' ~ type) -%}
                {%- endfor -%}
                {%- if missing -%}
                    {%- do run_query('alter table ' ~ relation ~ ' add columns ('
                                     ~ missing | join(', ') ~ ')') -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
