-- Customers (entities) to approach for each product (item), best first: the same
-- candidates as cross_sell_recommendations, ranked per (rule_set, item) by confidence
-- desc, lift desc, entity_id.
-- BI reads it: customers appear by pseudonymous key and masked display (docs/privacy.md).
with

candidates as (
    select * from {{ ref('int_cross_sell_candidates') }}
),

final as (
    select
        rule_set,
        item,
        {{ pseudonymize('entity_id') }} as entity_key,
        {{ mask_identifier('entity_id') }} as entity_masked,
        cluster,
        -- bigint as the contract says: row_number is int on Spark
        cast(row_number() over (
            partition by rule_set, item
            order by confidence desc, lift desc, entity_id asc
        ) as {{ dbt.type_bigint() }}) as customer_rank,
        confidence,
        lift,
        rule_id
    from candidates
)

select * from final
