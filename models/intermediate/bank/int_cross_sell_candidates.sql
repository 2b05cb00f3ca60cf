-- Cross-sell candidates of every rule set: per (rule_set, entity, item not held) the best
-- rule of the entity's cluster that recommends it. A rule applies to an entity when the
-- entity holds EVERY antecedent item: its held items joined to the rule's antecedent items
-- match antecedent_count of them (plain joins and a count, the same on every engine).
-- Its consequent items the entity does not hold are candidates; per (entity, item) the
-- best rule wins: confidence desc, lift desc, rule_id. The rule tables are replaced per
-- rule set in one run, so clusters, rules and rule items join on run_id too.
with

clusters as (
    select * from {{ source('ml', 'customer_clusters') }}
),

rules as (
    select * from {{ source('ml', 'association_rules') }}
),

rule_items as (
    select * from {{ source('ml', 'association_rule_items') }}
),

held as (
    select * from {{ ref('association_items') }}
),

antecedents_held as (
    select
        clusters.rule_set,
        clusters.entity_id,
        clusters.cluster,
        rule_items.run_id,
        rule_items.rule_id,
        count(*) as items_held
    from clusters
    inner join held
        on
            clusters.rule_set = held.rule_set
            and clusters.entity_id = held.entity_id
    inner join rule_items
        on
            clusters.rule_set = rule_items.rule_set
            and clusters.run_id = rule_items.run_id
            and clusters.cluster = rule_items.cluster
            and held.item = rule_items.item
    where rule_items.side = 'antecedent'
    group by
        clusters.rule_set,
        clusters.entity_id,
        clusters.cluster,
        rule_items.run_id,
        rule_items.rule_id
),

applicable as (
    select
        antecedents_held.rule_set,
        antecedents_held.entity_id,
        antecedents_held.cluster,
        rules.run_id,
        rules.rule_id,
        rules.antecedents,
        rules.confidence,
        rules.lift,
        rules.support
    from antecedents_held
    inner join rules
        on
            antecedents_held.rule_set = rules.rule_set
            and antecedents_held.run_id = rules.run_id
            and antecedents_held.rule_id = rules.rule_id
            and antecedents_held.items_held = rules.antecedent_count
),

candidates as (
    select
        applicable.rule_set,
        applicable.entity_id,
        applicable.cluster,
        rule_items.item,
        applicable.rule_id,
        applicable.antecedents,
        applicable.confidence,
        applicable.lift,
        applicable.support
    from applicable
    inner join rule_items
        on
            applicable.rule_set = rule_items.rule_set
            and applicable.run_id = rule_items.run_id
            and applicable.rule_id = rule_items.rule_id
    left join held
        on
            applicable.rule_set = held.rule_set
            and applicable.entity_id = held.entity_id
            and rule_items.item = held.item
    where
        rule_items.side = 'consequent'
        and held.item is null
),

ranked as (
    select
        *,
        row_number() over (
            partition by rule_set, entity_id, item
            order by confidence desc, lift desc, rule_id asc
        ) as rule_rank
    from candidates
),

final as (
    select
        rule_set,
        entity_id,
        cluster,
        item,
        rule_id,
        antecedents,
        confidence,
        lift,
        support
    from ranked
    where rule_rank = 1
)

select * from final
