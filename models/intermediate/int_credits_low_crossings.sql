{#
  One row per time an entity's credit balance fell from >= credits_low_threshold to below it.
  The balance is the ledger's running sum (int_credit_ledger: grants, draws, expiries up to
  as_of()). It is observed after each step that lowers it: one event's draws (all its lots
  together) or the expiries at one instant (all lots expiring then together). At one instant
  grants come first, then expiries, then events in event_id order.
#}
with ledger as (
    select entity_id, entry_type, entry_order, amount, occurred_at, event_id, user_id, period
    from {{ ref('int_credit_ledger') }}
),

steps as (
    select
        entity_id,
        occurred_at,
        entry_order,
        event_id,
        any_value(entry_type) as entry_type,
        any_value(user_id) as user_id,
        any_value(period) as period,
        sum(amount) as delta
    from ledger
    group by entity_id, occurred_at, entry_order, event_id
),

balances as (
    select
        *,
        sum(delta) over (
            partition by entity_id order by occurred_at, entry_order, event_id
            rows between unbounded preceding and current row
        ) as balance_after
    from steps
),

thresholds as (
    select entity_id, credits_low_threshold as threshold
    from {{ ref('stg_entities') }}
    where credits_low_threshold is not null
)

select
    b.entity_id,
    b.occurred_at,
    b.period,
    b.entry_type,
    cast(b.balance_after - b.delta as {{ money_unrounded_type() }}) as balance_before,
    cast(b.balance_after as {{ money_unrounded_type() }}) as balance_after,
    cast(t.threshold as {{ money_unrounded_type() }}) as threshold,
    b.event_id,
    b.user_id
from balances as b
inner join thresholds as t on t.entity_id = b.entity_id
where b.entry_type in ('draw', 'expiry')
  and b.balance_after - b.delta >= t.threshold
  and b.balance_after < t.threshold
