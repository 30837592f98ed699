-- Marketplace events as given, with their parsed values next to the raw text.
-- Grain: one row per active raw row (an event_id may repeat: replays and conflicting copies are
-- told apart in int_events_validated). Parsed columns are null when the raw value is invalid;
-- an empty quantity means 1.
with active_rows as (
    select
        r.*,
        f.file_id,
        f.rel_path,
        f.first_load_id,
        f.load_id
    from {{ source('raw', 'marketplace_events') }} as r
    inner join {{ source('raw', 'source_files') }} as f
        on f.file_id = r._file_id
    where f.is_active
),

with_load as (
    select
        active_rows.*,
        l.started_at as loaded_at
    from active_rows
    left join {{ source('raw', 'load_runs') }} as l
        on l.load_id = active_rows.load_id
)

select
    event_id,
    entity_id,
    user_id,
    event_type,
    occurred_at as occurred_at_raw,
    quantity as quantity_raw,
    amount as amount_raw,
    {{ parse_timestamptz('occurred_at') }} as occurred_at,
    {{ event_quantity('quantity') }} as quantity,
    case
        when not {{ is_blank('amount') }} then {{ parse_decimal('amount') }}
    end as amount,
    file_id as source_file_id,
    rel_path as source_file,
    _row_number as row_number,
    first_load_id,
    loaded_at
from with_load
