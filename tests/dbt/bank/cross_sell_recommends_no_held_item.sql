-- Cross-selling never recommends an item the entity already holds: every recommendation
-- whose (rule_set, entity, item) is among the held items of association_items fails (the
-- mart carries the entity's pseudonymous key: the held ids are keyed the same way).
-- association_items is read by name from the graph, not ref()'d: with a ref, dbt's eager
-- test selection would run this test with any build that selects association_items
-- (`--select +association_items`, before the marts exist). The mart itself depends on it.
{{ config(tags=['bank', 'bank_marts']) }}
{%- set held_relation = 'association_items' %}
{%- if execute %}
    {%- set node = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
                   | selectattr('name', 'equalto', 'association_items') | first %}
    {%- set held_relation = api.Relation.create(
        database=node.database, schema=node.schema, identifier=node.alias) %}
{%- endif %}

with

recommendations as (
    select * from {{ ref('cross_sell_recommendations') }}
),

held as (
    select
        rule_set,
        {{ pseudonymize('entity_id') }} as entity_key,
        item
    from {{ held_relation }}
),

final as (
    select
        recommendations.rule_set,
        recommendations.entity_key,
        recommendations.item
    from recommendations
    inner join held
        on
            recommendations.rule_set = held.rule_set
            and recommendations.entity_key = held.entity_key
            and recommendations.item = held.item
)

select * from final
