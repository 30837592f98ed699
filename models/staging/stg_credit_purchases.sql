-- Prepaid credit purchases.
-- Grain: one row per purchase_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    select
        r.*,
        f.load_id as _load_id,
        f.rel_path as _rel_path
    from {{ source('raw', 'credit_purchases') }} as r
    inner join {{ source('raw', 'source_files') }} as f
        on f.file_id = r._file_id
    where f.is_active
),

typed as (
    select
        purchase_id,
        entity_id,
        {{ parse_decimal('credits') }} as credits,
        {{ parse_decimal('price') }} as price,
        {{ parse_timestamptz('purchased_at') }} as purchased_at,
        {{ parse_timestamptz('expires_at') }} as expires_at,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    qualify row_number() over (
        partition by purchase_id
        order by _load_id desc, _rel_path desc, _row_number desc
    ) = 1
)

select
    purchase_id,
    entity_id,
    credits,
    price,
    purchased_at,
    expires_at
from latest
