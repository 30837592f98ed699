-- Event price rows: one per (price_id, tier, version valid_from).
-- Grain: one row per price_id, tier_from, valid_from; when active rows share the key, the latest loaded wins.
with active_rows as (
    {{ active_raw_rows('event_prices') }}
),

typed as (
    select
        price_id,
        event_type,
        upper(trim(currency)) as currency,
        lower(trim(model)) as model,
        coalesce({{ parse_integer('tier_from') }}, 0) as tier_from,
        {{ parse_integer('tier_to') }} as tier_to,
        {{ parse_decimal('unit_price') }} as unit_price,
        coalesce({{ parse_decimal('flat_fee') }}, 0)::{{ money_unrounded_type() }} as flat_fee,
        {{ parse_integer('package_size') }} as package_size,
        {{ parse_decimal('percent') }} as percent,
        {{ parse_decimal('min_fee') }} as min_fee,
        {{ parse_decimal('max_fee') }} as max_fee,
        {{ parse_date('valid_from') }} as valid_from,
        {{ parse_date('valid_to') }} as valid_to,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    {{ latest_loaded('price_id, tier_from, valid_from') }}
)

select
    price_id,
    event_type,
    currency,
    model,
    tier_from,
    tier_to,
    unit_price,
    flat_fee,
    package_size,
    percent,
    min_fee,
    max_fee,
    valid_from,
    valid_to
from latest
