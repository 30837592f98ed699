-- Seat subscription changes.
-- Grain: one row per change_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    select
        r.*,
        f.load_id as _load_id,
        f.rel_path as _rel_path
    from {{ source('raw', 'subscription_changes') }} as r
    inner join {{ source('raw', 'source_files') }} as f
        on f.file_id = r._file_id
    where f.is_active
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
    qualify row_number() over (
        partition by change_id
        order by _load_id desc, _rel_path desc, _row_number desc
    ) = 1
)

select
    change_id,
    entity_id,
    plan_id,
    seats,
    effective_at
from latest
