{#
  One row per entity with its integer key: entity_key numbers entity_id densely, in entity_id
  order, within one build (never store it outside a run). The heavy event models sort, join and
  group on it instead of the text id (int_events_validated carries it to every event;
  int_credit_lots to every lot, so the credit drawdown never handles entity ids as text).
  Grain: one row per entity_id.
#}
select
    entity_id,
    cast(row_number() over (order by entity_id) as integer) as entity_key,
    currency,
    timezone
from {{ ref('stg_entities') }}
