-- Contract table rejected_events: every event row that is not billed and not a replay.
-- Grain: one row per rejected event row (source_file, row_number).
select
    event_id,
    reject_reason as reason,
    source_file,
    {{ json_object_text([
        ('event_id', 'event_id'),
        ('entity_id', 'entity_id'),
        ('user_id', 'user_id'),
        ('event_type', 'event_type'),
        ('occurred_at', 'occurred_at_raw'),
        ('quantity', 'quantity_raw'),
        ('amount', 'amount_raw'),
    ]) }} as raw,
    loaded_at,
    row_number,
    entity_id,
    user_id,
    event_type
from {{ ref('int_events_validated') }}
where reject_reason is not null
