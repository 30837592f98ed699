-- Reconciliation: rated_events.credits_drawn ↔ credit ledger draws, per event: what an event
-- drew from credits equals minus the sum of its ledger draw rows, and each period's draws sum
-- to the period's credits applied (before rounding). Returns the mismatching events.
with event_draws as (
    select
        event_id,
        entity_id,
        credits_drawn
    from {{ ref('rated_events') }}
),

ledger_draws as (
    select
        event_id,
        entity_id,
        -sum(amount) as drawn
    from {{ ref('int_credit_ledger') }}
    where entry_type = 'draw'
    group by event_id, entity_id
)

select
    coalesce(e.event_id, l.event_id) as event_id,
    coalesce(e.entity_id, l.entity_id) as entity_id,
    e.credits_drawn,
    l.drawn as ledger_drawn
from event_draws as e
full outer join ledger_draws as l
    on l.event_id = e.event_id
where coalesce(e.credits_drawn, 0) <> coalesce(l.drawn, 0)
    or e.entity_id <> l.entity_id
