-- Seat plans.
-- Grain: one row per plan_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    select
        r.*,
        f.load_id as _load_id,
        f.rel_path as _rel_path
    from {{ source('raw', 'plans') }} as r
    inner join {{ source('raw', 'source_files') }} as f
        on f.file_id = r._file_id
    where f.is_active
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
    qualify row_number() over (
        partition by plan_id
        order by _load_id desc, _rel_path desc, _row_number desc
    ) = 1
)

select
    plan_id,
    plan_name,
    currency,
    seat_price,
    proration
from latest
