{#- Fails when var score_month is set to a month the model's month column does not hold
    (a month after the data, or before it): the training sets and scoring inputs would be
    empty. Unset: passes (the latest month is used). -#}
{% test score_month_in_data(model, column_name) %}

{%- set month = score_month_var() %}
select '{{ month }}' as score_month_not_in_data
from (
    select count(*) as n_rows
    from {{ model }}
    where {{ column_name }} = cast('{{ month or '1900-01-01' }}' as date)
) as found
where {{ 'found.n_rows = 0' if month else '1 = 0' }}

{% endtest %}
