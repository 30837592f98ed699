{{ config(
    materialized='incremental',
    on_schema_change='sync_all_columns',
    pre_hook="{{ delete_events_parsed_by_other_rules() }}",
) }}
{#
  Every raw event row ever loaded, parsed once in its life.
  Grain: one row per raw.marketplace_events row (source_file_id, row_number), whether its file is
  active now or not (stg_marketplace_events keeps the active ones).

  Incremental: raw rows are never changed or deleted (a retracted file only becomes inactive),
  so a run only parses the rows of files it has not seen. Each row records the fingerprint of
  the rules that parsed it (parse_rules: the parse macros and this model's code); when they
  change (an upgrade), a pre-hook deletes the rows parsed by the old rules and this run parses
  their files again. `billing load` runs this model right
  after loading, so a close finds its events parsed: tens of millions of timestamps, quantities
  and amounts are parsed at load, once, not at every close.

  prior_first_load_id: when an earlier version of the row's path (raw_dir, rel_path) held the
  same event_id, the load that first put it there; null when this version brought it.
  stg_marketplace_events turns it into first_load_id, which orders "the first one loaded
  stands". Only changed files have earlier versions, so the lookup is small.

  Parsed columns are null when the raw value is invalid; an empty quantity means 1. The raw text
  is kept only where it does not parse (`*_unparsed`, null otherwise): two copies of an event_id
  are compared on it, and the full raw row of a rejected event is read back from raw.
#}
with new_files as (
    -- event files (versions) not parsed yet; raw rows are read once, below (a CTE read twice
    -- would be materialized: every new raw row held in memory)
    select file_id, raw_dir, rel_path
    from {{ source('raw', 'source_files') }}
    where table_name = 'marketplace_events'
    {% if is_incremental() %}
        and file_id not in (select distinct source_file_id from {{ this }})
    {% endif %}
),

raw_rows as (
    select * from {{ source('raw', 'marketplace_events') }}
    where _file_id in (select file_id from new_files)
),

earlier_versions as (
    -- the earlier versions of a new file's path (a changed file is loaded as a new version)
    select n.file_id, v.file_id as version_file_id, v.load_id as version_load_id
    from new_files as n
    inner join {{ source('raw', 'source_files') }} as v
        on v.raw_dir = n.raw_dir
        and v.rel_path = n.rel_path
        and v.file_id < n.file_id
),

ids_seen_before as (
    -- event_ids the path held before this version, with the load that first put each there
    select e.file_id, r.event_id, min(e.version_load_id) as first_load_id
    from earlier_versions as e
    inner join {{ source('raw', 'marketplace_events') }} as r
        on r._file_id = e.version_file_id
    group by e.file_id, r.event_id
),

parsed as (
    select
        cast(r._file_id as bigint) * 4294967296 + r._row_number as event_key,
        r._file_id as source_file_id,
        r._row_number as row_number,
        -- "first loaded" is per row: the load that first put this event_id at this path. A row
        -- appended to an old file counts from the load that added it; a row corrected in place
        -- keeps its first load (a correction, not a later copy). Null here when this version
        -- brought the event_id (staging then takes the version's own load)
        s.first_load_id as prior_first_load_id,
        r.event_id,
        entity_id,
        user_id,
        event_type,
        occurred_at as occurred_at_text,
        quantity as quantity_text,
        amount as amount_text,
        {{ parse_timestamptz('occurred_at') }} as occurred_at,
        {{ event_quantity('quantity') }} as quantity,
        case
            when not {{ is_blank('amount') }} then {{ parse_decimal('amount') }}
        end as amount
    from raw_rows as r
    left join ids_seen_before as s
        on s.file_id = r._file_id
        and s.event_id = r.event_id
)

select
    event_key,
    source_file_id,
    row_number,
    prior_first_load_id,
    event_id,
    entity_id,
    user_id,
    event_type,
    occurred_at,
    quantity,
    amount,
    case when occurred_at is null then occurred_at_text end as occurred_at_unparsed,
    case when quantity is null then quantity_text end as quantity_unparsed,
    case
        when amount is null and not {{ is_blank('amount_text') }} then amount_text
    end as amount_unparsed,
    '{{ event_parse_rules() }}' as parse_rules
from parsed
