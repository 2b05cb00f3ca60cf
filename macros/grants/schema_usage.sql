{#- Read-only access by role (README, "Grants"; docs/privacy.md): the marts get `select`
    for the BI role (env SCOREHOUSE_BI_ROLE), the restricted models for the operations role
    (env SCOREHOUSE_OPS_ROLE), through dbt's `grants` config (dbt_project.yml); this hook
    adds the usage PostgreSQL requires on the schemas of the models that grant select to a
    role. Staging, intermediate, features and ml stay closed to both. A schema not created
    yet (no model of it built so far, e.g. the first `--selector bank_features` run) is
    skipped; the run that builds its first model grants it. -#}
{% macro grant_schema_usage() -%}
    {{ return(adapter.dispatch('grant_schema_usage', 'scorehouse')()) }}
{%- endmacro %}

{% macro default__grant_schema_usage() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set pairs = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
        {%- for role in (node.config.grants or {}).get('select', []) -%}
            {%- do pairs.append(node.schema ~ '\t' ~ role) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for pair in pairs | unique | sort -%}
        {%- set schema, role = pair.split('\t') -%}
        {%- if adapter.check_schema_exists(target.database, schema) %}
    grant usage on schema {{ adapter.quote(schema) }} to {{ adapter.quote(role) }};
        {%- endif -%}
    {%- endfor -%}
    {#- the operations role also reads who did what (audit_log) and who was erased
        (erasure_requests), nothing else of ml -#}
    {%- set ops = env_var('SCOREHOUSE_OPS_ROLE', '') -%}
    {%- set ml = var('ml_schema', 'ml') -%}
    {%- if ops and adapter.check_schema_exists(target.database, ml) %}
    grant usage on schema {{ adapter.quote(ml) }} to {{ adapter.quote(ops) }};
    grant select on {{ ml }}.audit_log, {{ ml }}.erasure_requests to {{ adapter.quote(ops) }};
    {%- endif -%}
{%- endmacro %}

{#- DuckDB has no roles (one file, one user); Spark SQL's table ACLs live in the cluster's
    catalog (Ranger, Unity Catalog), not in plain Spark. -#}
{% macro duckdb__grant_schema_usage() -%}{%- endmacro %}

{% macro spark__grant_schema_usage() -%}{%- endmacro %}

{#- adapter.warn_once exists on dbt-duckdb only; grant_config is {'select': []} when no BI
    role is set, so warn only when a grantee is named. -#}
{% macro spark__apply_grants(relation, grant_config, should_revoke=True) -%}
    {%- set grantees = [] -%}
    {%- for privilege, roles in (grant_config or {}).items() -%}
        {%- do grantees.extend(roles) -%}
    {%- endfor -%}
    {%- if grantees -%}
        {%- do exceptions.warn('Grants are not applied on Spark (' ~ relation
                               ~ '): grant in the cluster catalog') -%}
    {%- endif -%}
{%- endmacro %}
