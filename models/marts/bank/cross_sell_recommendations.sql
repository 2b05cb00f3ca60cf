-- Products (items) to offer each entity, best first: the candidates of
-- int_cross_sell_candidates (the best applicable rule of the entity's cluster per item it
-- does not hold), ranked per (rule_set, entity) by confidence desc, lift desc, item.
-- Never an item the entity holds.
-- BI reads it: customers appear by pseudonymous key and masked display (docs/privacy.md).
with

candidates as (
    select * from {{ ref('int_cross_sell_candidates') }}
),

final as (
    select
        rule_set,
        {{ pseudonymize('entity_id') }} as entity_key,
        {{ mask_identifier('entity_id') }} as entity_masked,
        cluster,
        item,
        -- bigint as the contract says: row_number is int on Spark
        cast(row_number() over (
            partition by rule_set, entity_id
            order by confidence desc, lift desc, item asc
        ) as {{ dbt.type_bigint() }}) as recommendation_rank,
        confidence,
        lift,
        support,
        rule_id,
        antecedents
    from candidates
)

select * from final
