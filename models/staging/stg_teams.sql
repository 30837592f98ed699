-- Teams.
-- Grain: one row per team_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    {{ active_raw_rows('teams') }}
),

typed as (
    select
        team_id,
        entity_id,
        name as team_name,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    {{ latest_loaded('team_id') }}
)

select
    team_id,
    entity_id,
    team_name
from latest
