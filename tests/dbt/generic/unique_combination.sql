{#- Fails on every combination of the given columns that occurs more than once (the grain
    test for subscriber-month tables; dbt_utils is not installable offline). -#}
{% test unique_combination(model, combination) %}

select
    {{ combination | join(', ') }},
    count(*) as n_rows
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1

{% endtest %}
