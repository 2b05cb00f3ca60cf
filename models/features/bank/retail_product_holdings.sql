-- Which of the eight retail products (seeds/bank/bank_products.csv) each customer holds:
-- one 0/1 column per product_key, from the CURRENT balances only. A zero or null balance
-- is not held (a comparison with null is not true); the *_last_year history balances never
-- count. A product added to the seed gets its column here and its key in bank_product_keys.
with

customers as (
    select * from {{ ref('stg_bank__retail_customers') }}
),

final as (
    select
        customer_id,
        cast(
            case when deposit_balance <> 0 then 1 else 0 end
            as {{ dbt.type_int() }}
        ) as deposit,
        cast(
            case when insurance_balance <> 0 then 1 else 0 end
            as {{ dbt.type_int() }}
        ) as insurance,
        cast(
            case when fund_balance <> 0 or jilibao_balance <> 0 then 1 else 0 end
            as {{ dbt.type_int() }}
        ) as fund,
        cast(
            case when gold_savings_balance <> 0 then 1 else 0 end
            as {{ dbt.type_int() }}
        ) as gold_savings,
        cast(
            case when wealth_balance <> 0 then 1 else 0 end
            as {{ dbt.type_int() }}
        ) as wealth_management,
        cast(
            case when bond_balance <> 0 then 1 else 0 end
            as {{ dbt.type_int() }}
        ) as government_bonds,
        cast(
            case when high_net_worth_balance <> 0 then 1 else 0 end
            as {{ dbt.type_int() }}
        ) as agency_asset_management,
        cast(
            case when loan_balance <> 0 or credit_card_instalment_balance <> 0 then 1 else 0 end
            as {{ dbt.type_int() }}
        ) as loan_and_credit_card
    from customers
)

select * from final
