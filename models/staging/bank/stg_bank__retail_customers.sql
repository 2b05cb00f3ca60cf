-- Retail customer snapshot, typed: categories as trimmed text (blank = null; the Chinese
-- values of seeds/bank/bank_value_lists.csv), ages, years, 0/1 flags and product counts as
-- bigint, balances as double. The *_last_year balances are history: they never count as
-- holding a product (retail_product_holdings).
with

source as (
    select * from {{ source_or_empty('bank', 'retail_customers') }}
),

final as (
    select
        {{ clean_text('customer_id') }} as customer_id,
        cast(data_date as date) as data_date,
        cast(age as {{ dbt.type_bigint() }}) as age,
        {{ clean_text('gender') }} as gender,
        cast(account_tenure_years as {{ dbt.type_bigint() }}) as account_tenure_years,
        {{ clean_text('education') }} as education,
        {{ clean_text('marital_status') }} as marital_status,
        cast(is_villager as {{ dbt.type_bigint() }}) as is_villager,
        cast(is_new_citizen as {{ dbt.type_bigint() }}) as is_new_citizen,
        cast(is_payroll as {{ dbt.type_bigint() }}) as is_payroll,
        cast(is_mortgage as {{ dbt.type_bigint() }}) as is_mortgage,
        cast(is_student as {{ dbt.type_bigint() }}) as is_student,
        cast(is_shareholder as {{ dbt.type_bigint() }}) as is_shareholder,
        cast(is_business_owner as {{ dbt.type_bigint() }}) as is_business_owner,
        cast(financial_product_count as {{ dbt.type_bigint() }}) as financial_product_count,
        cast(channel_product_count as {{ dbt.type_bigint() }}) as channel_product_count,
        cast(consumption_channel_count as {{ dbt.type_bigint() }})
            as consumption_channel_count,
        cast(time_deposit_count as {{ dbt.type_bigint() }}) as time_deposit_count,
        cast(loan_product_count as {{ dbt.type_bigint() }}) as loan_product_count,
        cast(wealth_product_count as {{ dbt.type_bigint() }}) as wealth_product_count,
        cast(insurance_product_count as {{ dbt.type_bigint() }}) as insurance_product_count,
        cast(fund_product_count as {{ dbt.type_bigint() }}) as fund_product_count,
        cast(bond_product_count as {{ dbt.type_bigint() }}) as bond_product_count,
        cast(high_net_worth_product_count as {{ dbt.type_bigint() }})
            as high_net_worth_product_count,
        {{ clean_text('risk_rating') }} as risk_rating,
        {{ clean_text('savings_preference') }} as savings_preference,
        {{ clean_text('wealth_preference') }} as wealth_preference,
        {{ clean_text('insurance_preference') }} as insurance_preference,
        {{ clean_text('fund_preference') }} as fund_preference,
        {{ clean_text('channel_preference') }} as channel_preference,
        cast(deposit_balance as {{ type_double() }}) as deposit_balance,
        cast(insurance_balance as {{ type_double() }}) as insurance_balance,
        cast(wealth_balance as {{ type_double() }}) as wealth_balance,
        cast(fund_balance as {{ type_double() }}) as fund_balance,
        cast(jilibao_balance as {{ type_double() }}) as jilibao_balance,
        cast(gold_savings_balance as {{ type_double() }}) as gold_savings_balance,
        cast(bond_balance as {{ type_double() }}) as bond_balance,
        cast(high_net_worth_balance as {{ type_double() }}) as high_net_worth_balance,
        cast(loan_balance as {{ type_double() }}) as loan_balance,
        cast(credit_card_instalment_balance as {{ type_double() }})
            as credit_card_instalment_balance,
        cast(deposit_balance_last_year as {{ type_double() }}) as deposit_balance_last_year,
        cast(wealth_balance_last_year as {{ type_double() }}) as wealth_balance_last_year
    from source
)

select * from final
where {{ not_erased('customer_id') }}
