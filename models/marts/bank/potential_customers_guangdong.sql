-- Potential corporate customers in Guangdong: the customers of the potential model's
-- latest scored month whose score reaches the registry threshold and whose registered or
-- operating address contains '广东' (a literal match, as the business rule says: an
-- address written without its province, e.g. '广州市天河区...', does not match). The model
-- is the enabled registry model of scenario corporate_potential in domain bank; without
-- one the mart is empty.
-- BI reads it: customers appear by pseudonymous key and masked display, their names and
-- addresses masked (docs/privacy.md).
with

scores as (
    {{ latest_positive_scores('corporate_potential', domain='bank') }}
),

registrations as (
    select * from {{ ref('stg_bank__corporate_registrations') }}
),

final as (
    select
        {{ pseudonymize('scores.entity_id') }} as customer_key,
        {{ mask_identifier('scores.entity_id') }} as customer_masked,
        {{ mask_name('registrations.company_name') }} as company_name_masked,
        {{ mask_address('registrations.registered_address') }} as registered_address_masked,
        {{ mask_address('registrations.operating_address') }} as operating_address_masked,
        scores.score,
        scores.score_month
    from scores
    inner join registrations on scores.entity_id = registrations.customer_id
    where
        registrations.registered_address like '%广东%'
        or registrations.operating_address like '%广东%'
)

select * from final
