-- Billed events with their price, amount and how credits paid them.
-- amount, credits_drawn and billed_amount are unrounded (decimal(38,12)); invoice lines round
-- the sums once per line. billed_amount = amount − credits_drawn is what the event adds to the
-- invoice as pay-as-you-go.
-- Grain: one row per billable event_id. Events without a int_credit_drawdown row drew nothing
-- and are no overages.
-- A view: int_rated_events already holds one row per event with every other column, and the
-- drawdown's rows are few; a table here would only copy tens of millions of rows once more
-- (a query pays one hash join on the integer event_key, and one on the small price book).
{{ config(materialized='view') }}
with rated as (
    select * from {{ ref('int_rated_events') }}
),

drawdown as (
    select event_key, credits_drawn, is_overage
    from {{ ref('int_credit_drawdown') }}
),

price_versions as (
    -- the event type and currency each price version was matched on (as int_events_validated)
    select price_id, valid_from, min(event_type) as event_type, min(currency) as currency
    from {{ ref('int_price_tiers') }}
    group by price_id, valid_from
)

select
    cast(r.event_id as varchar) as event_id,
    cast(r.entity_id as varchar) as entity_id,
    cast(r.user_id as varchar) as user_id,
    cast(p.event_type as varchar) as event_type,
    cast(r.period as varchar) as period,
    cast(r.price_id as varchar) as price_id,
    cast(r.quantity as bigint) as quantity,
    cast(r.amount as {{ money_unrounded_type() }}) as amount,
    cast(coalesce(d.credits_drawn, 0) as {{ money_unrounded_type() }}) as credits_drawn,
    cast(r.amount - coalesce(d.credits_drawn, 0) as {{ money_unrounded_type() }}) as billed_amount,
    cast(coalesce(d.is_overage, false) as boolean) as is_overage,
    cast(r.occurred_at as timestamptz) as occurred_at,
    cast(p.currency as varchar) as currency
from rated as r
left join drawdown as d
    on d.event_key = r.event_key
inner join price_versions as p
    on p.price_id = r.price_id
    and p.valid_from = r.price_valid_from
