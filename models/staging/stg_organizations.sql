-- Organizations.
-- Grain: one row per organization_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    select
        r.*,
        f.load_id as _load_id,
        f.rel_path as _rel_path
    from {{ source('raw', 'organizations') }} as r
    inner join {{ source('raw', 'source_files') }} as f
        on f.file_id = r._file_id
    where f.is_active
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
    qualify row_number() over (
        partition by organization_id
        order by _load_id desc, _rel_path desc, _row_number desc
    ) = 1
)

select
    organization_id,
    organization_name
from latest
