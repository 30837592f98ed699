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

  Parsed columns are null when the raw value is invalid; an empty quantity means 1. The raw text
  is kept only where it does not parse (`*_unparsed`, null otherwise): two copies of an event_id
  are compared on it, and the full raw row of a rejected event is read back from raw.
#}
with raw_rows as (
    select * from {{ source('raw', 'marketplace_events') }}
    {% if is_incremental() %}
    where _file_id not in (select distinct source_file_id from {{ this }})
    {% endif %}
),

parsed as (
    select
        cast(_file_id as bigint) * 4294967296 + _row_number as event_key,
        _file_id as source_file_id,
        _row_number as row_number,
        event_id,
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
    from raw_rows
)

select
    event_key,
    source_file_id,
    row_number,
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
