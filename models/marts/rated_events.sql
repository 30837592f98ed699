-- Billed events with their price, amount and how credits paid them.
-- amount, credits_drawn and billed_amount are unrounded (decimal(38,12)); invoice lines round
-- the sums once per line. billed_amount = amount − credits_drawn is what the event adds to the
-- invoice as pay-as-you-go.
-- Grain: one row per billable event_id (every one has its int_event_credits row: the not_null
-- tests on credits_drawn / billed_amount / is_overage fail otherwise).
with rated as (
    select
        event_id,
        entity_id,
        user_id,
        event_type,
        occurred_at,
        period,
        price_id,
        quantity,
        amount
    from {{ ref('int_rated_events') }}
),

credits as (
    select
        event_id,
        credits_drawn,
        billed_amount,
        is_overage
    from {{ ref('int_event_credits') }}
),

entities as (
    select
        entity_id,
        currency
    from {{ ref('stg_entities') }}
)

select
    cast(r.event_id as varchar) as event_id,
    cast(r.entity_id as varchar) as entity_id,
    cast(r.user_id as varchar) as user_id,
    cast(r.event_type as varchar) as event_type,
    cast(r.period as varchar) as period,
    cast(r.price_id as varchar) as price_id,
    cast(r.quantity as bigint) as quantity,
    cast(r.amount as {{ money_unrounded_type() }}) as amount,
    cast(c.credits_drawn as {{ money_unrounded_type() }}) as credits_drawn,
    cast(c.billed_amount as {{ money_unrounded_type() }}) as billed_amount,
    cast(c.is_overage as boolean) as is_overage,
    cast(r.occurred_at as timestamptz) as occurred_at,
    cast(e.currency as varchar) as currency
from rated as r
left join credits as c
    on c.event_id = r.event_id
left join entities as e
    on e.entity_id = r.entity_id
