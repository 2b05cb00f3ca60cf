-- Score stability and accuracy per model and score month, for BI and alerting:
--   psi_vs_previous  PSI of this month's scores against the model's previous scored month
--                    (equal-frequency deciles of the previous month, psi_query);
--   psi_vs_training  PSI against the score distribution the artifact version produced on
--                    its out-of-time month at training (ml.score_baselines: its decile
--                    cut points and shares);
--   auc, ks          once the label month has matured (auc_ks_query over score_outcomes).
-- Bands as everywhere: stable <= 0.10 < warn <= 0.25 < error (psi_status columns; the
-- psi_bands tests on this model apply them to the latest month).
{%- set models = ml_registry() %}
with

scores as (
    select * from {{ source('ml', 'model_scores') }}
),

baselines as (
    select * from {{ source('ml', 'score_baselines') }}
),

monthly as (
    select
        model_name,
        score_month,
        count(*) as rows_scored,
        avg(score) as mean_score,
        max(model_version) as model_version
    from scores
    group by model_name, score_month
),

psi_previous as (
    {%- for model in models %}
    select
        '{{ model.model_name }}' as model_name,
        current_month as score_month,
        psi as psi_vs_previous
    from (
        {{ psi_query(
            "(select score_month, score from " ~ source('ml', 'model_scores')
            ~ " where model_name = '" ~ model.model_name ~ "') as model_scores",
            ['score'], 'score_month') }}
    ) as psi_{{ loop.index }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as model_name,
        cast(null as date) as score_month,
        cast(null as {{ type_double() }}) as psi_vs_previous
    where 1 = 0
    {%- endfor %}
),

cuts as (
    select model_name, model_version, upper_edge
    from baselines
    where upper_edge is not null
),

-- bin of a score = number of baseline cut points strictly below it (right-closed bins)
binned as (
    select
        scores.model_name,
        scores.model_version,
        scores.score_month,
        scores.entity_id,
        count(cuts.upper_edge) as bin
    from scores
    left join cuts
        on
            scores.model_name = cuts.model_name
            and scores.model_version = cuts.model_version
            and cuts.upper_edge < scores.score
    group by scores.model_name, scores.model_version, scores.score_month, scores.entity_id
),

current_bins as (
    select model_name, model_version, score_month, bin, count(*) as rows_in_bin
    from binned
    group by model_name, model_version, score_month, bin
),

current_totals as (
    select model_name, model_version, score_month, sum(rows_in_bin) as rows_scored
    from current_bins
    group by model_name, model_version, score_month
),

psi_training_terms as (
    select
        current_totals.model_name,
        current_totals.score_month,
        {{ divergence_term(
            floored_share('coalesce(current_bins.rows_in_bin, 0)', 'current_totals.rows_scored'),
            'case when baselines.baseline_share = 0 then ' ~ stats_epsilon()
            ~ ' else baselines.baseline_share end') }} as term
    from current_totals
    inner join baselines
        on
            current_totals.model_name = baselines.model_name
            and current_totals.model_version = baselines.model_version
    left join current_bins
        on
            current_totals.model_name = current_bins.model_name
            and current_totals.model_version = current_bins.model_version
            and current_totals.score_month = current_bins.score_month
            and baselines.bin = current_bins.bin
),

psi_training as (
    select model_name, score_month, sum(term) as psi_vs_training
    from psi_training_terms
    group by model_name, score_month
),

accuracy as (
    {{ auc_ks_query(ref('score_outcomes'), ['model_name', 'score_month']) }}
),

final as (
    select
        monthly.model_name,
        monthly.score_month,
        monthly.model_version,
        monthly.rows_scored,
        monthly.mean_score,
        psi_previous.psi_vs_previous,
        psi_training.psi_vs_training,
        {%- for column in ['psi_vs_previous', 'psi_vs_training'] %}
        case
            when {{ column }} is null then 'n/a'
            when {{ column }} > 0.25 then 'error'
            when {{ column }} > 0.1 then 'warn'
            else 'ok'
        end as {{ column | replace('psi', 'status') }},
        {%- endfor %}
        accuracy.labelled_rows,
        accuracy.positives,
        accuracy.auc,
        accuracy.ks
    from monthly
    left join psi_previous
        on monthly.model_name = psi_previous.model_name and monthly.score_month = psi_previous.score_month
    left join psi_training
        on monthly.model_name = psi_training.model_name and monthly.score_month = psi_training.score_month
    left join accuracy
        on monthly.model_name = accuracy.model_name and monthly.score_month = accuracy.score_month
)

select * from final
