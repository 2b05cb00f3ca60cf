-- The retail customers' 28 clustering fields as numbers, one row per customer: numeric
-- fields as they are, each text field coded to its value_index in
-- seeds/bank/bank_value_lists.csv (an ordered list: 0 = first value). A value missing
-- from the list codes as null, and customers with any null field are dropped (the team's
-- rule: KMeans takes complete rows only).
with

customers as (
    select * from {{ ref('stg_bank__retail_customers') }}
),

value_lists as (
    select * from {{ ref('bank_value_lists') }}
),

coded as (
    select
        customers.customer_id,
        customers.age,
        cast(gender_list.value_index as {{ dbt.type_bigint() }}) as gender,
        customers.account_tenure_years,
        cast(education_list.value_index as {{ dbt.type_bigint() }}) as education,
        cast(marital_status_list.value_index as {{ dbt.type_bigint() }}) as marital_status,
        customers.is_villager,
        customers.is_new_citizen,
        customers.is_payroll,
        customers.is_mortgage,
        customers.is_student,
        customers.is_shareholder,
        customers.is_business_owner,
        customers.financial_product_count,
        customers.channel_product_count,
        customers.consumption_channel_count,
        customers.time_deposit_count,
        customers.loan_product_count,
        customers.wealth_product_count,
        customers.insurance_product_count,
        customers.fund_product_count,
        customers.bond_product_count,
        customers.high_net_worth_product_count,
        cast(risk_rating_list.value_index as {{ dbt.type_bigint() }}) as risk_rating,
        cast(savings_preference_list.value_index as {{ dbt.type_bigint() }}) as savings_preference,
        cast(wealth_preference_list.value_index as {{ dbt.type_bigint() }}) as wealth_preference,
        cast(insurance_preference_list.value_index as {{ dbt.type_bigint() }})
            as insurance_preference,
        cast(fund_preference_list.value_index as {{ dbt.type_bigint() }}) as fund_preference,
        cast(channel_preference_list.value_index as {{ dbt.type_bigint() }}) as channel_preference
    from customers
    left join value_lists as gender_list
        on
            customers.gender = gender_list.value
            and gender_list.field = 'gender'
    left join value_lists as education_list
        on
            customers.education = education_list.value
            and education_list.field = 'education'
    left join value_lists as marital_status_list
        on
            customers.marital_status = marital_status_list.value
            and marital_status_list.field = 'marital_status'
    left join value_lists as risk_rating_list
        on
            customers.risk_rating = risk_rating_list.value
            and risk_rating_list.field = 'risk_rating'
    left join value_lists as savings_preference_list
        on
            customers.savings_preference = savings_preference_list.value
            and savings_preference_list.field = 'savings_preference'
    left join value_lists as wealth_preference_list
        on
            customers.wealth_preference = wealth_preference_list.value
            and wealth_preference_list.field = 'wealth_preference'
    left join value_lists as insurance_preference_list
        on
            customers.insurance_preference = insurance_preference_list.value
            and insurance_preference_list.field = 'insurance_preference'
    left join value_lists as fund_preference_list
        on
            customers.fund_preference = fund_preference_list.value
            and fund_preference_list.field = 'fund_preference'
    left join value_lists as channel_preference_list
        on
            customers.channel_preference = channel_preference_list.value
            and channel_preference_list.field = 'channel_preference'
),

final as (
    select * from coded
    where
        age is not null
        and gender is not null
        and account_tenure_years is not null
        and education is not null
        and marital_status is not null
        and is_villager is not null
        and is_new_citizen is not null
        and is_payroll is not null
        and is_mortgage is not null
        and is_student is not null
        and is_shareholder is not null
        and is_business_owner is not null
        and financial_product_count is not null
        and channel_product_count is not null
        and consumption_channel_count is not null
        and time_deposit_count is not null
        and loan_product_count is not null
        and wealth_product_count is not null
        and insurance_product_count is not null
        and fund_product_count is not null
        and bond_product_count is not null
        and high_net_worth_product_count is not null
        and risk_rating is not null
        and savings_preference is not null
        and wealth_preference is not null
        and insurance_preference is not null
        and fund_preference is not null
        and channel_preference is not null
)

select * from final
