{#- A stable bucket 0 .. buckets-1 from any id: the first 32 bits of md5(id as text).
    md5 exists on every engine and gives the same bucket everywhere, so in-time train/test
    splits are identical on DuckDB, PostgreSQL and Spark. -#}
{% macro hash_bucket(expr, buckets) -%}
    {{ return(adapter.dispatch('hash_bucket', 'scorehouse')(expr, buckets)) }}
{%- endmacro %}

{% macro default__hash_bucket(expr, buckets) -%}
    (cast(cast(('x' || substr(md5(cast({{ expr }} as varchar)), 1, 8)) as bit(32)) as bigint) % {{ buckets }})
{%- endmacro %}

{% macro duckdb__hash_bucket(expr, buckets) -%}
    (cast(('0x' || substr(md5(cast({{ expr }} as varchar)), 1, 8)) as ubigint) % {{ buckets }})
{%- endmacro %}

{% macro spark__hash_bucket(expr, buckets) -%}
    (cast(conv(substr(md5(cast({{ expr }} as string)), 1, 8), 16, 10) as bigint) % {{ buckets }})
{%- endmacro %}
