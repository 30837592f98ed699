-- Prepaid credit purchases.
-- Grain: one row per purchase_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    {{ active_raw_rows('credit_purchases') }}
),

typed as (
    select
        purchase_id,
        entity_id,
        {{ parse_decimal('credits') }} as credits,
        {{ parse_decimal('price') }} as price,
        {{ parse_timestamptz('purchased_at') }} as purchased_at,
        {{ parse_timestamptz('expires_at') }} as expires_at,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    {{ latest_loaded('purchase_id') }}
)

select
    purchase_id,
    entity_id,
    credits,
    price,
    purchased_at,
    expires_at
from latest
