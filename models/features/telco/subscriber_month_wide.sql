{{ month_incremental_config() }}  {#- macros/ml/ml_frames.sql -#}
{%- set group_measures = ['data_mb', 'voice_minutes', 'billed_amount'] %}
-- The subscriber-month wide table: one row per subscriber active at the end of the month,
-- every feature the scenarios train on. New columns added here flow into the training
-- sets, scoring inputs, profiles, PSI and IV marts without further edits.
-- Incremental by month: a run rebuilds var score_month (or the latest month and newer),
-- replacing exactly those months; --full-refresh rebuilds every month.
with

spine as (
    select * from {{ ref('int_subscriber_months') }}
    where
        not is_deactivated_in_month
        and {{ incremental_months_filter('month') }}
),

subscribers as (
    select * from {{ ref('stg_telco__subscribers') }}
),

packages as (
    select * from {{ ref('stg_telco__packages') }}
),

usage as (
    select * from {{ ref('int_subscriber_usage_windows') }}
),

billing as (
    select * from {{ ref('int_subscriber_billing_windows') }}
),

tickets as (
    select * from {{ ref('int_subscriber_tickets_monthly') }}
),

addons as (
    select * from {{ ref('int_subscriber_addons_monthly') }}
),

package_groups as (
    select * from {{ ref('package_group_month') }}
),

final as (
    select
        spine.subscriber_id,
        spine.month,
        subscribers.age_band,
        subscribers.gender,
        subscribers.region,
        subscribers.sales_channel,
        subscribers.contract_type,
        {{ months_between('spine.activation_date', 'spine.month') }} as tenure_months, -- noqa: LT05
        {{ months_between('spine.month', 'spine.contract_end_date') }}
            as months_to_contract_end,
        billing.package_id,
        packages.package_group,
        packages.monthly_fee,
        packages.data_allowance_mb,
        packages.voice_allowance_min,
        {{ star_except(ref('int_subscriber_usage_windows'), 'usage',
                                 ['subscriber_id', 'month']) }},
        {{ safe_divide('usage.data_mb', 'packages.data_allowance_mb') }}
            as data_allowance_ratio,
        {{ safe_divide('usage.voice_minutes', 'packages.voice_allowance_min') }}
            as voice_allowance_ratio,
        {{ star_except(ref('int_subscriber_billing_windows'), 'billing',
                                 ['subscriber_id', 'month', 'package_id']) }},
        {{ star_except(ref('int_subscriber_tickets_monthly'), 'tickets',
                                 ['subscriber_id', 'month']) }},
        {{ star_except(ref('int_subscriber_addons_monthly'), 'addons',
                                 ['subscriber_id', 'month']) }},
        {%- for measure in group_measures %}
        {%- set value = ('usage.' if measure != 'billed_amount' else 'billing.') ~ measure %}
        {{ safe_divide(value, 'package_groups.group_avg_' ~ measure) }}
            as {{ measure }}_vs_group_avg,
        {{ safe_divide(value, 'package_groups.group_p50_' ~ measure) }}
            as {{ measure }}_vs_group_median,
        {%- endfor %}
        {{ safe_divide('billing.billed_amount', 'packages.monthly_fee') }} as bill_to_fee_ratio
    from spine
    inner join subscribers on spine.subscriber_id = subscribers.subscriber_id
    left join usage
        on
            spine.subscriber_id = usage.subscriber_id
            and spine.month = usage.month
    left join billing
        on
            spine.subscriber_id = billing.subscriber_id
            and spine.month = billing.month
    left join packages on billing.package_id = packages.package_id
    left join tickets
        on
            spine.subscriber_id = tickets.subscriber_id
            and spine.month = tickets.month
    left join addons
        on
            spine.subscriber_id = addons.subscriber_id
            and spine.month = addons.month
    left join package_groups
        on
            packages.package_group = package_groups.package_group
            and spine.month = package_groups.month
)

select * from final
