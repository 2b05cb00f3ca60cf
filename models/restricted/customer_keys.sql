-- The map from pseudonymous key to clear id, for the operations role only (schema
-- restricted; grants to env SCOREHOUSE_OPS_ROLE): the churn call list and the cross-sell
-- campaign join a BI mart's entity_key / customer_key here to reach the customer. Every
-- entity python_scoring scored or clustered. Never granted to BI (docs/privacy.md).
with

entities as (
    select entity_id from {{ source('ml', 'model_scores') }}
    union
    select entity_id from {{ source('ml', 'customer_clusters') }}
),

final as (
    select
        {{ pseudonymize('entity_id') }} as entity_key,
        entity_id
    from entities
)

select * from final
