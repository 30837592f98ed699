-- Billed events with their price, amount and how credits paid them.
-- amount, credits_drawn and billed_amount are unrounded (decimal(38,12)); invoice lines round
-- the sums once per line. billed_amount = amount − credits_drawn is what the event adds to the
-- invoice as pay-as-you-go.
-- Grain: one row per billable event_id (every one has its int_event_credits row: the not_null
-- tests on credits_drawn / billed_amount / is_overage fail otherwise).
-- A view: int_event_credits already holds every column, one row per rated event, so a table
-- here would only copy tens of millions of rows once more.
{{ config(materialized='view') }}
select
    cast(event_id as varchar) as event_id,
    cast(entity_id as varchar) as entity_id,
    cast(user_id as varchar) as user_id,
    cast(event_type as varchar) as event_type,
    cast(period as varchar) as period,
    cast(price_id as varchar) as price_id,
    cast(quantity as bigint) as quantity,
    cast(amount as {{ money_unrounded_type() }}) as amount,
    cast(credits_drawn as {{ money_unrounded_type() }}) as credits_drawn,
    cast(billed_amount as {{ money_unrounded_type() }}) as billed_amount,
    cast(is_overage as boolean) as is_overage,
    cast(occurred_at as timestamptz) as occurred_at,
    cast(currency as varchar) as currency
from {{ ref('int_event_credits') }}
