-- The online service's scores against batch scoring's, per model, artifact version and
-- request month (ml.online_requests, loaded by `scorehouse ingest-requests`):
--   online_rows      rows the service scored that month (status 200, with a score);
--   batch_month      the latest score_month <= request_month of the same model_name and
--                    model_version in ml.model_scores (null when batch scoring has none);
--   batch_rows       that month's batch rows;
--   psi_vs_batch     PSI of the online scores against that month's batch scores
--                    (psi_sides_query): the binning of psi_query (score_monitoring's
--                    psi_vs_previous): the batch month's equal-frequency deciles,
--                    right-closed bins, a null bin, empty shares floored at 1e-4
--                    (macros/stats/binning.sql);
--   status_vs_batch  ok <= 0.10 < warn <= 0.25 < error; n/a without a batch month.
-- Every model of ml.online_requests, whatever its domain. Empty until requests are ingested.
with

requests as (
    select * from {{ source('ml', 'online_requests') }}
),

scores as (
    select * from {{ source('ml', 'model_scores') }}
),

online as (
    select
        model_name,
        model_version,
        request_month,
        cast(score as {{ type_double() }}) as score
    from requests
    where
        status = 200
        and score is not null
        and model_name is not null
        and model_version is not null
),

online_monthly as (
    select
        model_name,
        model_version,
        request_month,
        count(*) as online_rows,
        avg(score) as online_mean_score
    from online
    group by model_name, model_version, request_month
),

served as (
    select distinct model_name, model_version from online_monthly
),

-- the batch months of the versions served online
batch_monthly as (
    select
        scores.model_name,
        scores.model_version,
        scores.score_month,
        count(*) as batch_rows,
        avg(scores.score) as batch_mean_score
    from scores
    inner join served
        on
            scores.model_name = served.model_name
            and scores.model_version = served.model_version
    group by scores.model_name, scores.model_version, scores.score_month
),

pairs as (
    select
        online_monthly.model_name,
        online_monthly.model_version,
        online_monthly.request_month,
        max(batch_monthly.score_month) as batch_month
    from online_monthly
    inner join batch_monthly
        on
            online_monthly.model_name = batch_monthly.model_name
            and online_monthly.model_version = batch_monthly.model_version
            and online_monthly.request_month >= batch_monthly.score_month
    group by online_monthly.model_name, online_monthly.model_version, online_monthly.request_month
),

-- per (model, version, request month): the paired batch month's scores (the baseline,
-- whose deciles are the bins) and the month's online scores
sides as (
    select
        pairs.model_name,
        pairs.model_version,
        pairs.request_month,
        'baseline' as side,
        scores.score
    from pairs
    inner join scores
        on
            pairs.model_name = scores.model_name
            and pairs.model_version = scores.model_version
            and pairs.batch_month = scores.score_month
    union all
    select
        pairs.model_name,
        pairs.model_version,
        pairs.request_month,
        'current' as side,
        online.score
    from pairs
    inner join online
        on
            pairs.model_name = online.model_name
            and pairs.model_version = online.model_version
            and pairs.request_month = online.request_month
),

psi as (
    {{ psi_sides_query('sides', ['model_name', 'model_version', 'request_month'], 'score') }}
),

final as (
    select
        online_monthly.model_name,
        online_monthly.model_version,
        online_monthly.request_month,
        online_monthly.online_rows,
        online_monthly.online_mean_score,
        pairs.batch_month,
        batch_monthly.batch_rows,
        batch_monthly.batch_mean_score,
        psi.psi as psi_vs_batch,
        case
            when psi.psi is null then 'n/a'
            when psi.psi > 0.25 then 'error'
            when psi.psi > 0.1 then 'warn'
            else 'ok'
        end as status_vs_batch
    from online_monthly
    left join pairs
        on
            online_monthly.model_name = pairs.model_name
            and online_monthly.model_version = pairs.model_version
            and online_monthly.request_month = pairs.request_month
    left join batch_monthly
        on
            pairs.model_name = batch_monthly.model_name
            and pairs.model_version = batch_monthly.model_version
            and pairs.batch_month = batch_monthly.score_month
    left join psi
        on
            online_monthly.model_name = psi.model_name
            and online_monthly.model_version = psi.model_version
            and online_monthly.request_month = psi.request_month
)

select * from final
