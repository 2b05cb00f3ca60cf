-- The transactions the rule sets mine: one row per (rule_set, entity_id, item) held.
--   retail_products  a retail customer's held products (retail_product_holdings), named by
--                    product_name of seeds/bank/bank_products.csv (存款, 保险, ...);
--   baskets          the market baskets' items (stg_bank__basket_items).
-- An entity holding nothing has no row; `scorehouse rules` still counts it in support
-- through the rule set's cluster input. Analyzed on PostgreSQL: the cross-sell SQL joins it.
{{ config(post_hook="{{ analyze_table() }}") }}
with

holdings as (
    select * from {{ ref('retail_product_holdings') }}
),

products as (
    select * from {{ ref('bank_products') }}
),

baskets as (
    select * from {{ ref('stg_bank__basket_items') }}
),

held as (
    {%- for key in bank_product_keys() %}
    select
        customer_id,
        '{{ key }}' as product_key
    from holdings
    where {{ key }} = 1
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        cast('retail_products' as {{ dbt.type_string() }}) as rule_set,
        held.customer_id as entity_id,
        products.product_name as item
    from held
    inner join products on held.product_key = products.product_key
    union all
    select
        cast('baskets' as {{ dbt.type_string() }}) as rule_set,
        basket_id as entity_id,
        item
    from baskets
)

select * from final
