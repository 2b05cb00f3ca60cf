-- Churn scoring input: the wide table of the score month (var score_month, default the
-- latest month), the population python_scoring scores.
with

wide as (
    select * from {{ ref('subscriber_month_wide') }}
),

score_month as (
    select {{ score_month(ref('int_calendar_months')) }} as month
),

final as (
    select wide.*
    from wide
    inner join score_month on wide.month = score_month.month
)

select * from final
