{#- PSI of a numeric column, current month against a baseline, in the PSI bands (stable <=
    0.10 < warn <= 0.25 < error): warns when PSI > warn_above (0.1) and fails when PSI >
    error_above (0.25).

    dbt needs an integer "failures" value, so the test reports the largest PSI found in
    basis points, rounded up (PSI 0.2731 -> 2731): "Got 2731 results, configured to fail
    if >2500" reads as PSI 0.2731 > 0.25.

    baseline: 'previous' (default) or a fixed month '2025-01-01'.
    all_months: false (default) tests the score month (var score_month, else the latest
    month) only; true tests every month against its baseline. -#}
{% test psi_stable(model, column_name, month_column='month', baseline='previous', bins=10,
                   warn_above=0.1, error_above=0.25, all_months=false) %}
{{ config(
    fail_calc='cast(ceil(coalesce(max(psi), 0) * 10000) as integer)',
    warn_if='>' ~ (warn_above * 10000) | round | int,
    error_if='>' ~ (error_above * 10000) | round | int,
) }}

{%- set current = none if all_months else score_month(model, month_column) %}

with

psi as (
    {{ psi_query(model, [column_name], month_column, baseline, bins, current) }}
)

select * from psi

{% endtest %}
