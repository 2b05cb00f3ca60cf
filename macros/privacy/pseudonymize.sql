{#- A pseudonymous key for a personal identifier: lower-case hex SHA-256 of the secret salt,
    '|' and the value as text (python_scoring.privacy.pseudonymize gives the same). The same
    value gets the same key on every engine and in every build while the salt stays, so BI
    can join marts on it; without the salt the key cannot be turned back into the value.
    The salt is a session setting, never SQL text (docs/privacy.md): a build without it
    fails naming SCOREHOUSE_PSEUDONYM_SALT. Null stays null. -#}
{% macro pseudonymize(expr) -%}
    {{ return(adapter.dispatch('pseudonymize', 'scorehouse')(expr)) }}
{%- endmacro %}

{#- PostgreSQL / Greenplum: PGOPTIONS sets scorehouse.pseudonym_salt; unset, the error is
    'unrecognized configuration parameter "scorehouse.pseudonym_salt"' -#}
{% macro default__pseudonymize(expr) -%}
    encode(sha256(convert_to(
        current_setting('scorehouse.pseudonym_salt') || '|' || cast({{ expr }} as text), 'UTF8'
    )), 'hex')
{%- endmacro %}

{% macro duckdb__pseudonymize(expr) -%}
    sha256(
        {#- cast: without it an unset variable is an untyped null and error() never runs #}
        coalesce(
            cast(getvariable('scorehouse_pseudonym_salt') as varchar),
            error('SCOREHOUSE_PSEUDONYM_SALT is not set (docs/privacy.md)')
        ) || '|' || cast({{ expr }} as varchar)
    )
{%- endmacro %}

{#- Spark substitutes ${env:NAME} with the driver's environment variable before parsing (a
    conf value would not do: Spark substitutes a conf whose key says "secret" redacted, and
    shows the others in its UI). In session mode the driver is the scorehouse or dbt
    process; behind a Thrift server, set the variable in the server's environment. Unset,
    the text stays '${env:...}' and the guard fails naming it. -#}
{% macro spark__pseudonymize(expr) -%}
    sha2(
        case
            when length('${env:SCOREHOUSE_PSEUDONYM_SALT}') >= 16
                and substr('${env:SCOREHOUSE_PSEUDONYM_SALT}', 1, 2) != concat('$', '{')
                then '${env:SCOREHOUSE_PSEUDONYM_SALT}'
            else raise_error('SCOREHOUSE_PSEUDONYM_SALT is not set (docs/privacy.md)')
        end || '|' || cast({{ expr }} as string),
        256
    )
{%- endmacro %}
