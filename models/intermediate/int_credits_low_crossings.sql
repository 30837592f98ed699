{#
  One row per time an entity's credit balance fell from >= credits_low_threshold to below it.
  The balance is the ledger's running balance (int_credit_balances: grants, draws, expiries up
  to as_of()). It is observed after each step that lowers it: one event's draws (all its lots
  together) or the expiries at one instant (all lots expiring then together). At one instant
  grants come first, then expiries, then events in event_id order.
  Only entities with a threshold are looked at; no second ordering is needed (the step's
  balance after is the balance_after of its last ledger row).
  armed_at: when the balance last rose from under the threshold to at least it (a grant: the
  first purchase, or a top-up) before the crossing. There is one crossing per arming, so
  (entity_id, armed_at) names the crossing whatever event made it: a late event that now
  crosses earlier in the same arming is the same crossing (int_webhook_triggers keys the
  billing.credits_low webhook on it, so it is sent once).
#}
with thresholds as (
    select entity_id, credits_low_threshold as threshold
    from {{ ref('stg_entities') }}
    where credits_low_threshold is not null
),

ledger as (
    select entity_id, entry_type, entry_order, entry_seq, amount, balance_after, occurred_at,
        event_id, user_id, period
    from {{ ref('int_credit_balances') }}
    where entity_id in (select entity_id from thresholds)
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
        sum(amount) as delta,
        {{ value_at_max('balance_after', 'entry_seq') }} as balance_after
    from ledger
    group by entity_id, occurred_at, entry_order, event_id
),

steps_armed as (
    select
        s.*,
        max(case when s.balance_after - s.delta < t.threshold and s.balance_after >= t.threshold
                 then s.occurred_at end) over (
            partition by s.entity_id
            order by s.occurred_at, s.entry_order, s.event_id nulls first
            rows between unbounded preceding and current row
        ) as armed_at
    from steps as s
    inner join thresholds as t on t.entity_id = s.entity_id
)

select
    s.entity_id,
    s.occurred_at,
    s.armed_at,
    s.period,
    s.entry_type,
    cast(s.balance_after - s.delta as {{ money_unrounded_type() }}) as balance_before,
    cast(s.balance_after as {{ money_unrounded_type() }}) as balance_after,
    cast(t.threshold as {{ money_unrounded_type() }}) as threshold,
    s.event_id,
    s.user_id
from steps_armed as s
inner join thresholds as t on t.entity_id = s.entity_id
where s.entry_type in ('draw', 'expiry')
  and s.balance_after - s.delta >= t.threshold
  and s.balance_after < t.threshold
