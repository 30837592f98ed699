-- Marketplace events of the active raw files, parsed (base_marketplace_events parses each raw
-- row once, when it is loaded).
-- Grain: one row per active raw row (an event_id may repeat: replays and conflicting copies are
-- told apart in int_events_validated). Parsed columns are null when the raw value is invalid;
-- an empty quantity means 1; *_unparsed holds the raw text of a value that does not parse.
with parsed_rows as (
    select * from {{ ref('base_marketplace_events') }}
),

active_files as (
    select file_id, rel_path, load_id
    from {{ source('raw', 'source_files') }}
    where is_active
),

loads as (
    select load_id, started_at
    from {{ source('raw', 'load_runs') }}
)

select
    p.event_id,
    p.entity_id,
    p.user_id,
    p.event_type,
    p.occurred_at,
    p.quantity,
    p.amount,
    p.occurred_at_unparsed,
    p.quantity_unparsed,
    p.amount_unparsed,
    p.event_key,
    p.source_file_id,
    f.rel_path as source_file,
    p.row_number,
    coalesce(p.prior_first_load_id, f.load_id) as first_load_id,
    l.started_at as loaded_at
from parsed_rows as p
inner join active_files as f
    on f.file_id = p.source_file_id
left join loads as l
    on l.load_id = coalesce(p.prior_first_load_id, f.load_id)
