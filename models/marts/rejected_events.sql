-- Contract table rejected_events: every event row that is not billed and not a replay.
-- Grain: one row per rejected event row (source_file, row_number).
-- raw is the row as given: its text is read back from raw.marketplace_events (staging keeps
-- parsed values only), for the few rejected rows.
with rejected as (
    select event_key, reject_reason
    from {{ ref('int_events_validated') }}
    where reject_reason is not null
),

staged as (
    select
        event_key,
        event_id,
        entity_id,
        user_id,
        event_type,
        source_file_id,
        source_file,
        row_number,
        loaded_at
    from {{ ref('stg_marketplace_events') }}
),

raw_rows as (
    select
        _file_id,
        _row_number,
        occurred_at,
        quantity,
        amount
    from {{ source('raw', 'marketplace_events') }}
)

select
    s.event_id,
    r.reject_reason as reason,
    s.source_file,
    {{ json_object_text([
        ('event_id', 's.event_id'),
        ('entity_id', 's.entity_id'),
        ('user_id', 's.user_id'),
        ('event_type', 's.event_type'),
        ('occurred_at', 'w.occurred_at'),
        ('quantity', 'w.quantity'),
        ('amount', 'w.amount'),
    ]) }} as raw,
    s.loaded_at,
    s.row_number,
    s.entity_id,
    s.user_id,
    s.event_type
from rejected as r
inner join staged as s
    on s.event_key = r.event_key
inner join raw_rows as w
    on w._file_id = s.source_file_id
    and w._row_number = s.row_number
