-- Membership of a user in an entity (credit_limit null = no limit).
-- Grain: one row per entity_id, user_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    {{ active_raw_rows('entity_users') }}
),

typed as (
    select
        entity_id,
        user_id,
        team_id,
        {{ parse_decimal('credit_limit') }} as credit_limit,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    {{ latest_loaded('entity_id, user_id') }}
)

select
    entity_id,
    user_id,
    team_id,
    credit_limit
from latest
