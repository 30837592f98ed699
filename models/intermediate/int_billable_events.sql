-- The events that are billed: the standing copy of each event_id that passed every check.
-- Grain: one row per billable event_id.
-- A view: a filter of int_events_validated is cheaper to re-read than to write once more.
{{ config(materialized='view') }}
select
    event_key,
    event_id,
    entity_id,
    user_id,
    occurred_at,
    period,
    quantity,
    amount as input_amount,
    price_id,
    price_valid_from,
    model,
    entity_key,
    price_key
from {{ ref('int_events_validated') }}
where reject_reason is null
    and not is_replay
