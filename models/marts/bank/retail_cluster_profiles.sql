-- Profiles of the retail customer clusters of rule set retail_products
-- (ml.customer_clusters): per cluster the customers, their mean age and account tenure,
-- and the share holding each of the eight products (retail_product_holdings).
with

clusters as (
    select * from {{ source('ml', 'customer_clusters') }}
    where rule_set = 'retail_products'
),

customers as (
    select * from {{ ref('stg_bank__retail_customers') }}
),

holdings as (
    select * from {{ ref('retail_product_holdings') }}
),

final as (
    select
        clusters.rule_set,
        clusters.cluster,
        count(*) as customers,
        avg(cast(customers.age as {{ type_double() }})) as mean_age,
        avg(cast(customers.account_tenure_years as {{ type_double() }}))
            as mean_account_tenure_years,
        avg(cast(holdings.deposit as {{ type_double() }})) as deposit_rate,
        avg(cast(holdings.insurance as {{ type_double() }})) as insurance_rate,
        avg(cast(holdings.fund as {{ type_double() }})) as fund_rate,
        avg(cast(holdings.gold_savings as {{ type_double() }})) as gold_savings_rate,
        avg(cast(holdings.wealth_management as {{ type_double() }})) as wealth_management_rate,
        avg(cast(holdings.government_bonds as {{ type_double() }})) as government_bonds_rate,
        avg(cast(holdings.agency_asset_management as {{ type_double() }}))
            as agency_asset_management_rate,
        avg(cast(holdings.loan_and_credit_card as {{ type_double() }})) as loan_and_credit_card_rate
    from clusters
    left join customers on clusters.entity_id = customers.customer_id
    left join holdings on clusters.entity_id = holdings.customer_id
    group by clusters.rule_set, clusters.cluster
)

select * from final
