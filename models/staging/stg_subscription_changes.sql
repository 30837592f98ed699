-- Seat subscription changes.
-- Grain: one row per change_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    {{ active_raw_rows('subscription_changes') }}
),

typed as (
    select
        change_id,
        entity_id,
        plan_id,
        cast({{ parse_integer('seats') }} as integer) as seats,
        {{ parse_timestamptz('effective_at') }} as effective_at,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    {{ latest_loaded('change_id') }}
)

select
    change_id,
    entity_id,
    plan_id,
    seats,
    effective_at
from latest
