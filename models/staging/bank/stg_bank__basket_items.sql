-- Market basket items: one row per basket and distinct item, both trimmed; rows without
-- a basket id or with a blank item are dropped.
with

source as (
    select * from {{ source_or_empty('bank', 'basket_items') }}
),

cleaned as (
    select
        {{ clean_text('basket_id') }} as basket_id,
        {{ clean_text('item') }} as item
    from source
),

final as (
    select distinct
        basket_id,
        item
    from cleaned
    where basket_id is not null and item is not null
)

select * from final
