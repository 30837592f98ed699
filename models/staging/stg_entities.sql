-- Entities: the billing unit (currency, timezone).
-- Grain: one row per entity_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    {{ active_raw_rows('entities') }}
),

typed as (
    select
        entity_id,
        organization_id,
        name as entity_name,
        upper(trim(currency)) as currency,
        trim(timezone) as timezone,
        country,
        billing_email,
        address,
        coalesce({{ parse_decimal('tax_rate') }}, 0)::{{ money_unrounded_type() }} as tax_rate,
        {{ parse_decimal('credits_low_threshold') }} as credits_low_threshold,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    {{ latest_loaded('entity_id') }}
)

select
    entity_id,
    organization_id,
    entity_name,
    currency,
    timezone,
    country,
    billing_email,
    address,
    tax_rate,
    credits_low_threshold
from latest
