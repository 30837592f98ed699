-- Seat plans.
-- Grain: one row per plan_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    {{ active_raw_rows('plans') }}
),

typed as (
    select
        plan_id,
        name as plan_name,
        upper(trim(currency)) as currency,
        {{ parse_decimal('seat_price') }} as seat_price,
        lower(trim(proration)) as proration,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    {{ latest_loaded('plan_id') }}
)

select
    plan_id,
    plan_name,
    currency,
    seat_price,
    proration
from latest
