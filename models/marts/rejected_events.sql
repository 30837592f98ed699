-- Contract table rejected_events: every event row that is not billed and not a replay.
-- Grain: one row per rejected event row (source_file, row_number).
with rejected as (
    select source_file_id, row_number, reject_reason
    from {{ ref('int_events_validated') }}
    where reject_reason is not null
),

staged as (
    select * from {{ ref('stg_marketplace_events') }}
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
        ('occurred_at', 's.occurred_at_raw'),
        ('quantity', 's.quantity_raw'),
        ('amount', 's.amount_raw'),
    ]) }} as raw,
    s.loaded_at,
    s.row_number,
    s.entity_id,
    s.user_id,
    s.event_type
from rejected as r
inner join staged as s
    on s.source_file_id = r.source_file_id
    and s.row_number = r.row_number
