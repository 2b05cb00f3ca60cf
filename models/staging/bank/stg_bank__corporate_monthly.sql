-- Corporate customers by month, typed: ids and categories as trimmed text (blank = null),
-- counts and 0/1 flags as bigint, amounts and ratios as double, dates as date.
with

source as (
    select * from {{ source_or_empty('bank', 'corporate_monthly') }}
),

final as (
    select
        {{ clean_text('customer_id') }} as customer_id,
        cast(month as date) as month,
        {{ clean_text('industry') }} as industry,
        {{ clean_text('company_size') }} as company_size,
        cast(account_open_date as date) as account_open_date,
        cast(last_transaction_date as date) as last_transaction_date,
        cast(employee_count as {{ dbt.type_bigint() }}) as employee_count,
        cast(settlement_account_count as {{ dbt.type_bigint() }}) as settlement_account_count,
        cast(counterparty_count as {{ dbt.type_bigint() }}) as counterparty_count,
        cast(online_banking_logins as {{ dbt.type_bigint() }}) as online_banking_logins,
        cast(loan_overdue_days as {{ dbt.type_bigint() }}) as loan_overdue_days,
        cast(product_count as {{ dbt.type_bigint() }}) as product_count,
        cast(payroll_service as {{ dbt.type_bigint() }}) as payroll_service,
        cast(fx_business as {{ dbt.type_bigint() }}) as fx_business,
        cast(loan_balance as {{ type_double() }}) as loan_balance,
        cast(outflow_ratio as {{ type_double() }}) as outflow_ratio,
        cast(avg_monthly_txn_count as {{ type_double() }}) as avg_monthly_txn_count,
        cast(avg_monthly_txn_amount as {{ type_double() }}) as avg_monthly_txn_amount,
        cast(financial_assets_avg_daily as {{ type_double() }}) as financial_assets_avg_daily,
        cast(financial_assets_avg_daily_3m as {{ type_double() }})
            as financial_assets_avg_daily_3m
    from source
)

select * from final
where {{ not_erased('customer_id') }}
