-- The corporate customer-month table: one row per customer and month with every feature of
-- bank.corporate_monthly and two derived from its dates (the dates themselves are never
-- features):
--   account_age_months           whole months from account_open_date to the month
--                                (months_between: month boundaries crossed);
--   days_since_last_transaction  days from last_transaction_date to the LAST day of the
--                                month (the month-end snapshot): 0 for a transaction on
--                                the last day.
-- The four label inputs stay here for the targets; the training sets and scoring inputs
-- drop the ones their label is made of (churn: the two financial-asset averages;
-- potential: the two transaction averages).
with

monthly as (
    select * from {{ ref('stg_bank__corporate_monthly') }}
),

month_ends as (
    select
        *,
        {{ dbt.last_day('month', 'month') }} as month_end
    from monthly
),

final as (
    select
        customer_id,
        month,
        industry,
        company_size,
        employee_count,
        settlement_account_count,
        counterparty_count,
        online_banking_logins,
        loan_overdue_days,
        product_count,
        payroll_service,
        fx_business,
        loan_balance,
        outflow_ratio,
        cast(
            {{ months_between('account_open_date', 'month') }} -- noqa: LT05
            as {{ dbt.type_bigint() }}
        ) as account_age_months,
        cast(
            {{ dbt.datediff('last_transaction_date', 'month_end', 'day') }}
            as {{ dbt.type_bigint() }}
        ) as days_since_last_transaction,
        avg_monthly_txn_count,
        avg_monthly_txn_amount,
        financial_assets_avg_daily,
        financial_assets_avg_daily_3m
    from month_ends
)

select * from final
