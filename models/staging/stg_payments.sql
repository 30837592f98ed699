-- Payment attempts (not validated by the loader: an unparsable amount or time is null).
-- Grain: one row per payment_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    select
        r.*,
        f.load_id as _load_id,
        f.rel_path as _rel_path
    from {{ source('raw', 'payments') }} as r
    inner join {{ source('raw', 'source_files') }} as f
        on f.file_id = r._file_id
    where f.is_active
),

typed as (
    select
        payment_id,
        invoice_number,
        {{ parse_decimal('amount') }} as amount,
        lower(trim(status)) as status,
        {{ parse_timestamptz('attempted_at') }} as attempted_at,
        _load_id,
        _rel_path,
        _row_number
    from active_rows
),

latest as (
    select *
    from typed
    qualify row_number() over (
        partition by payment_id
        order by _load_id desc, _rel_path desc, _row_number desc
    ) = 1
)

select
    payment_id,
    invoice_number,
    amount,
    status,
    attempted_at
from latest
