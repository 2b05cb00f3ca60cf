{#- A PSI column of a monitoring mart within the PSI bands (stable <= 0.10 < warn <= 0.25 <
    error), for the latest month: warns when PSI > warn_above (0.1), fails when PSI >
    error_above (0.25). Like
    psi_stable, the failure count is the largest PSI in basis points (rounded up), since
    dbt needs an integer. Rows with a null PSI (nothing to compare with) pass. -#}
{% test psi_bands(model, column_name, month_column='score_month', warn_above=0.1,
                  error_above=0.25) %}
{{ config(
    fail_calc='cast(ceil(coalesce(max(psi), 0) * 10000) as integer)',
    warn_if='>' ~ (warn_above * 10000) | round | int,
    error_if='>' ~ (error_above * 10000) | round | int,
) }}

select {{ column_name }} as psi
from {{ model }}
where
    {{ month_column }} = (select max({{ month_column }}) from {{ model }})
    and {{ column_name }} > {{ warn_above }}

{% endtest %}
