-- Organizations.
-- Grain: one row per organization_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    {{ active_raw_rows('organizations') }}
),

typed as (
    select
        organization_id,
        name as organization_name,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    {{ latest_loaded('organization_id') }}
)

select
    organization_id,
    organization_name
from latest
