{#- AUC and KS of a score against a 0/1 label, per group, in SQL
    (python_scoring.features.metrics is the reference; tested equal to 1e-9):

        AUC = (sum of the positives' ranks - n1 (n1 + 1) / 2) / (n1 n0)   (Mann-Whitney;
              tied scores share their average rank, i.e. count one half)
        KS  = max over score thresholds of |TPR - FPR|, thresholds at distinct scores

    Rows with a null label are left out (labels not matured yet). Returns one row per
    group: labelled_rows, positives, auc, ks (auc and ks null when a class is missing). -#}
{% macro auc_ks_query(relation, group_columns, score='score', label='label') -%}
{%- set groups = group_columns | join(', ') -%}
with

auc_ks_rows as (
    select {{ groups }}, cast({{ score }} as {{ type_double() }}) as score, {{ label }} as label
    from {{ relation }}
    where {{ label }} is not null
),

auc_ks_by_score as (
    select
        {{ groups }},
        score,
        sum(label) as positives,
        count(*) - sum(label) as negatives
    from auc_ks_rows
    group by {{ groups }}, score
),

auc_ks_cumulative as (
    select
        {{ groups }},
        cast(positives as {{ type_double() }}) as positives,
        cast(negatives as {{ type_double() }}) as negatives,
        -- rows scored strictly lower: the rank offset of this score's block of ties
        cast(coalesce(sum(positives + negatives) over (
            partition by {{ groups }} order by score
            rows between unbounded preceding and 1 preceding
        ), 0) as {{ type_double() }}) as rows_below,
        -- rows scored at least this high: the threshold "score >= this score"
        cast(sum(positives) over (
            partition by {{ groups }} order by score desc
            rows between unbounded preceding and current row
        ) as {{ type_double() }}) as positives_above,
        cast(sum(negatives) over (
            partition by {{ groups }} order by score desc
            rows between unbounded preceding and current row
        ) as {{ type_double() }}) as negatives_above,
        cast(sum(positives) over (partition by {{ groups }}) as {{ type_double() }}) as n_positive,
        cast(sum(negatives) over (partition by {{ groups }}) as {{ type_double() }}) as n_negative
    from auc_ks_by_score
),

auc_ks_final as (
    select
        {{ groups }},
        cast(max(n_positive + n_negative) as {{ dbt.type_bigint() }}) as labelled_rows,
        cast(max(n_positive) as {{ dbt.type_bigint() }}) as positives,
        case when max(n_positive) > 0 and max(n_negative) > 0 then
            -- positives' rank sum: a block of tied scores shares its average rank
            (sum(positives * (rows_below + (positives + negatives + 1) / 2))
                - max(n_positive) * (max(n_positive) + 1) / 2)
            / (max(n_positive) * max(n_negative))
        end as auc,
        case when max(n_positive) > 0 and max(n_negative) > 0 then
            max(abs(positives_above / n_positive - negatives_above / n_negative))
        end as ks
    from auc_ks_cumulative
    group by {{ groups }}
)

select * from auc_ks_final
{%- endmacro %}
