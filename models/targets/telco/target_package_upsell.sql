-- Package migration label, up-sell direction. For a subscriber active at the end of month
-- m and still billed in m+1: `upsold` = 1 when the package billed in m+1 has a higher
-- monthly fee than the package billed in m; 0 for no change, a down-sell or a move at
-- the same fee. `migration_direction` keeps the full picture (up / down / lateral / none).
with

population as (
    select * from {{ ref('int_subscriber_label_months') }}
),

billing as (
    select subscriber_id, month, package_id
    from {{ ref('int_subscriber_billing_windows') }}
    where package_id is not null
),

packages as (
    select package_id, monthly_fee from {{ ref('stg_telco__packages') }}
),

paired as (
    select
        population.subscriber_id,
        population.month,
        population.label_month,
        this_month.package_id,
        next_month.package_id as next_package_id,
        this_fee.monthly_fee,
        next_fee.monthly_fee as next_monthly_fee
    from population
    inner join billing as this_month
        on
            population.subscriber_id = this_month.subscriber_id
            and population.month = this_month.month
    inner join billing as next_month
        on
            population.subscriber_id = next_month.subscriber_id
            and population.label_month = next_month.month
    inner join packages as this_fee on this_month.package_id = this_fee.package_id
    inner join packages as next_fee on next_month.package_id = next_fee.package_id
),

final as (
    select
        subscriber_id,
        month,
        label_month,
        package_id,
        next_package_id,
        case when next_monthly_fee > monthly_fee then 1 else 0 end as upsold,
        case
            when next_package_id = package_id then 'none'
            when next_monthly_fee > monthly_fee then 'up'
            when next_monthly_fee < monthly_fee then 'down'
            else 'lateral'
        end as migration_direction
    from paired
)

select * from final
