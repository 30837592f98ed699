-- Users.
-- Grain: one row per user_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    {{ active_raw_rows('users') }}
),

typed as (
    select
        user_id,
        name as user_name,
        email,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    {{ latest_loaded('user_id') }}
)

select
    user_id,
    user_name,
    email
from latest
