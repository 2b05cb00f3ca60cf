-- Corporate registration details, typed: text trimmed (blank = null), addresses as given
-- (Chinese, with or without the province), capital (10k yuan) as double.
with

source as (
    select * from {{ source_or_empty('bank', 'corporate_registrations') }}
),

final as (
    select
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('company_name') }} as company_name,
        {{ clean_text('registered_address') }} as registered_address,
        {{ clean_text('operating_address') }} as operating_address,
        cast(registered_capital as {{ type_double() }}) as registered_capital,
        {{ clean_text('legal_form') }} as legal_form,
        cast(established_date as date) as established_date,
        cast(shareholder_count as {{ dbt.type_bigint() }}) as shareholder_count,
        cast(is_high_tech as {{ dbt.type_bigint() }}) as is_high_tech
    from source
)

select * from final
where {{ not_erased('customer_id') }}
