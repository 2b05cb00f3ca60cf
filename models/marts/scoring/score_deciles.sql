-- Per model and score month, the ten score deciles (1 = highest scores; ntile sizes):
-- rows, score range and mean, and once the label month has matured the actual positive
-- rate, lift (decile rate / month rate) and cumulative lift (deciles 1..k together).
with

outcomes as (
    select * from {{ ref('score_outcomes') }}
),

ranked as (
    select
        model_name,
        score_month,
        score,
        label,
        ntile(10) over (partition by model_name, score_month order by score desc) as decile
    from outcomes
),

deciles as (
    select
        model_name,
        score_month,
        decile,
        count(*) as rows_scored,
        min(score) as min_score,
        max(score) as max_score,
        avg(score) as mean_score,
        count(label) as rows_labelled,
        sum(label) as positives
    from ranked
    group by model_name, score_month, decile
),

cumulative as (
    select
        *,
        sum(positives) over (
            partition by model_name, score_month order by decile
            rows between unbounded preceding and current row
        ) as cumulative_positives,
        sum(rows_labelled) over (
            partition by model_name, score_month order by decile
            rows between unbounded preceding and current row
        ) as cumulative_rows_labelled,
        sum(positives) over (partition by model_name, score_month) as month_positives,
        sum(rows_labelled) over (partition by model_name, score_month) as month_rows_labelled
    from deciles
),

final as (
    select
        model_name,
        score_month,
        -- bigint as the contract says: ntile is int on PostgreSQL and Spark
        cast(decile as {{ dbt.type_bigint() }}) as decile,
        rows_scored,
        min_score,
        max_score,
        mean_score,
        rows_labelled,
        -- labels count only when the whole month has matured
        case
            when month_rows_labelled > 0
                then {{ safe_divide('positives', 'rows_labelled') }}
        end as positive_rate,
        case
            when month_rows_labelled > 0
                then {{ safe_divide(safe_divide('positives', 'rows_labelled'),
                                    safe_divide('month_positives', 'month_rows_labelled')) }}
        end as lift,
        case
            when month_rows_labelled > 0
                then {{ safe_divide(safe_divide('cumulative_positives', 'cumulative_rows_labelled'),
                                    safe_divide('month_positives', 'month_rows_labelled')) }}
        end as cumulative_lift
    from cumulative
)

select * from final
