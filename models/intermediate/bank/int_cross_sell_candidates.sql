-- Cross-sell candidates of every rule set: per (rule_set, entity, item not held) the best
-- rule recommending it among the rules that apply to the entity
-- (int_cross_sell_applicable_rules). The consequent items the entity does not hold are
-- candidates; per (entity, item) the best rule wins: confidence desc, lift desc, rule_id.
-- The rule tables are replaced per rule set in one run, so they join on run_id too.
with

applicable_rules as (
    select * from {{ ref('int_cross_sell_applicable_rules') }}
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

applicable as (
    select
        applicable_rules.rule_set,
        applicable_rules.entity_id,
        applicable_rules.cluster,
        rules.run_id,
        rules.rule_id,
        rules.antecedents,
        rules.confidence,
        rules.lift,
        rules.support
    from applicable_rules
    inner join rules
        on
            applicable_rules.rule_set = rules.rule_set
            and applicable_rules.run_id = rules.run_id
            and applicable_rules.rule_id = rules.rule_id
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
