-- Payment attempts (not validated by the loader: an unparsable amount or time is null).
-- Grain: one row per payment_id; when active rows share the key, the latest loaded wins.
with active_rows as (
    {{ active_raw_rows('payments') }}
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
    {{ latest_loaded('payment_id') }}
)

select
    payment_id,
    invoice_number,
    amount,
    status,
    attempted_at
from latest
