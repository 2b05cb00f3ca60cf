-- Which of the eight retail products (seeds/bank/bank_products.csv) each customer holds:
-- one 0/1 column per product_key (then the id), from the CURRENT balances only. A product
-- is held when any of its balances below is non-zero; a zero or null balance is not held
-- (a comparison with null is not true); the *_last_year history balances never count. A
-- product added to the seed gets its entry here and its key in bank_product_keys.
{%- set held_when_non_zero = {
    'deposit': ['deposit_balance'],
    'insurance': ['insurance_balance'],
    'fund': ['fund_balance', 'jilibao_balance'],
    'gold_savings': ['gold_savings_balance'],
    'wealth_management': ['wealth_balance'],
    'government_bonds': ['bond_balance'],
    'agency_asset_management': ['high_net_worth_balance'],
    'loan_and_credit_card': ['loan_balance', 'credit_card_instalment_balance']
} %}
with

customers as (
    select * from {{ ref('stg_bank__retail_customers') }}
),

final as (
    select
        {%- for product, balances in held_when_non_zero.items() %}
        cast(
            case when {{ balances | join(" <> 0 or ") }} <> 0 then 1 else 0 end
            as {{ dbt.type_int() }}
        ) as {{ product }},
        {%- endfor %}
        customer_id
    from customers
)

select * from final
