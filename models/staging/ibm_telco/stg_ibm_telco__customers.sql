-- IBM Telco customers, typed: Yes/No flags stay text categories (the file's own values),
-- total_charges is blank for the 11 customers with tenure 0, so it is 0 for them.
with

source as (
    select * from {{ source('ibm_telco', 'customers') }}
),

final as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        -- a snapshot: every customer is observed in the same (nominal) month
        cast('{{ var("ibm_telco_snapshot_month", "2024-01-01") }}' as date) as month,
        gender,
        cast(senior_citizen as integer) as senior_citizen,
        partner,
        dependents,
        cast(tenure as integer) as tenure_months,
        phone_service,
        multiple_lines,
        internet_service,
        online_security,
        online_backup,
        device_protection,
        tech_support,
        streaming_tv,
        streaming_movies,
        contract,
        paperless_billing,
        payment_method,
        cast(monthly_charges as {{ type_double() }}) as monthly_charges,
        coalesce(
            cast(
                nullif(trim(cast(total_charges as {{ dbt.type_string() }})), '')
                as {{ type_double() }}
            ),
            0
        ) as total_charges,
        case when churn = 'Yes' then 1 else 0 end as churned
    from source
)

select * from final
where {{ not_erased('customer_id') }}
