-- The potential-customer model's features: corporate_month_features without the two
-- transaction averages the label is made of, joined with the registration details
-- (capital, legal form, shareholders, high-tech flag and the company's age; not the name
-- nor the addresses). company_age_years = whole years from established_date to the month
-- (completed 12-month periods of months_between). A customer without a registration row
-- keeps its row, with nulls.
with

monthly as (
    select * from {{ ref('corporate_month_features') }}
),

registrations as (
    select * from {{ ref('stg_bank__corporate_registrations') }}
),

final as (
    select
        {{ star_except(ref('corporate_month_features'), 'monthly',
                       ['avg_monthly_txn_count', 'avg_monthly_txn_amount']) }},
        registrations.registered_capital,
        registrations.legal_form,
        registrations.shareholder_count,
        registrations.is_high_tech,
        cast(
            floor({{ safe_divide(months_between('registrations.established_date', 'monthly.month'),
                                 12) }})
            as {{ dbt.type_bigint() }}
        ) as company_age_years
    from monthly
    left join registrations on monthly.customer_id = registrations.customer_id
)

select * from final
