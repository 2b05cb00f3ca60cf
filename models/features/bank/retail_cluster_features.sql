-- The retail customers' 28 clustering fields as numbers, one row per customer (the id
-- last): numeric fields as they are, each text field coded to its value_index in
-- seeds/bank/bank_value_lists.csv (an ordered list: 0 = first value). A value missing
-- from the list codes as null, and customers with any null field are dropped (the team's
-- rule: KMeans takes complete rows only).
{%- set fields = [
    'age', 'gender', 'account_tenure_years', 'education', 'marital_status',
    'is_villager', 'is_new_citizen', 'is_payroll', 'is_mortgage', 'is_student',
    'is_shareholder', 'is_business_owner',
    'financial_product_count', 'channel_product_count', 'consumption_channel_count',
    'time_deposit_count', 'loan_product_count', 'wealth_product_count',
    'insurance_product_count', 'fund_product_count', 'bond_product_count',
    'high_net_worth_product_count',
    'risk_rating', 'savings_preference', 'wealth_preference', 'insurance_preference',
    'fund_preference', 'channel_preference'
] %}
{%- set coded_fields = [
    'gender', 'education', 'marital_status', 'risk_rating', 'savings_preference',
    'wealth_preference', 'insurance_preference', 'fund_preference', 'channel_preference'
] %}
with

customers as (
    select * from {{ ref('stg_bank__retail_customers') }}
),

value_lists as (
    select * from {{ ref('bank_value_lists') }}
),

coded as (
    select
        {%- for field in fields %}
        {%- if field in coded_fields %}
        cast({{ field }}_list.value_index as {{ dbt.type_bigint() }}) as {{ field }},
        {%- else %}
        customers.{{ field }},
        {%- endif %}
        {%- endfor %}
        customers.customer_id
    from customers
    {% for field in coded_fields %}
    left join value_lists as {{ field }}_list
        on
            customers.{{ field }} = {{ field }}_list.value
            and {{ field }}_list.field = '{{ field }}'
    {% endfor %}
),

final as (
    select * from coded
    where
        {{ fields[0] }} is not null
        {%- for field in fields[1:] %}
        and {{ field }} is not null
        {%- endfor %}
)

select * from final
