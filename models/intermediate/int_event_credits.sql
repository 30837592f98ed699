{#
  One row per billable event: what it drew from prepaid credits, what is left to bill, the user's
  room and the entity's credit balance around it, and whether the user's limit (not the balance)
  is what stopped the draw (is_overage). It also carries the event's event_type, price_id,
  quantity and currency, so the rated_events mart is a projection of this table (no second
  10M-row table, no second join on event_id).
#}
with events as (
    select event_id, entity_id, user_id, occurred_at, period, amount,
        event_type, price_id, quantity, currency
    from {{ ref('int_rated_events') }}
),

draws as (
    select event_id, purchase_id, amount
    from {{ ref('int_event_credit_draws') }}
),

drawn_per_event as (
    select event_id, sum(amount) as credits_drawn
    from draws
    group by event_id
),

drawn_per_lot as (
    select purchase_id, sum(amount) as drawn
    from draws
    group by purchase_id
),

lots as (
    select
        l.entity_id,
        l.purchase_id,
        l.credits,
        l.purchased_at,
        l.expires_at,
        l.credits - coalesce(d.drawn, 0) as remainder
    from {{ ref('int_credit_lots') }} as l
    left join drawn_per_lot as d on d.purchase_id = l.purchase_id
),

limits as (
    select entity_id, user_id, credit_limit
    from {{ ref('stg_entity_users') }}
),

events_drawn as (
    select
        e.*,
        cast(coalesce(d.credits_drawn, 0) as {{ money_unrounded_type() }}) as credits_drawn,
        cast(l.credit_limit as {{ money_unrounded_type() }}) as credit_limit
    from events as e
    left join drawn_per_event as d on d.event_id = e.event_id
    left join limits as l on l.entity_id = e.entity_id and l.user_id = e.user_id
),

-- every change of an entity's balance: grants at purchased_at, forfeits at expires_at (whether or
-- not as_of has reached them: an event after expires_at cannot use the lot), draws per event.
-- At one instant grants come first, then expiries, then events in event_id order.
movements as (
    select entity_id, purchased_at as moved_at, 0 as step_kind, null as event_id, credits as delta
    from lots
    union all
    select entity_id, expires_at, 1, null, -remainder
    from lots
    union all
    select entity_id, occurred_at, 2, event_id, -credits_drawn
    from events_drawn
    where entity_id in (select entity_id from lots)
),

balances as (
    select
        event_id,
        coalesce(
            sum(delta) over (
                partition by entity_id order by moved_at, step_kind, event_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as balance_before
    from movements
),

rooms as (
    select
        ed.*,
        ed.credit_limit - coalesce(
            sum(ed.credits_drawn) over (
                partition by ed.entity_id, ed.user_id, ed.period order by ed.occurred_at, ed.event_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as user_room_before
    from events_drawn as ed
)

select
    r.event_id,
    r.entity_id,
    r.user_id,
    r.occurred_at,
    r.period,
    r.amount,
    r.credits_drawn,
    cast(r.amount - r.credits_drawn as {{ money_unrounded_type() }}) as billed_amount,
    coalesce(
        r.user_room_before < r.amount and r.user_room_before < coalesce(b.balance_before, 0),
        false
    ) as is_overage,
    cast(r.user_room_before as {{ money_unrounded_type() }}) as user_room_before,
    cast(coalesce(b.balance_before, 0) as {{ money_unrounded_type() }}) as balance_before,
    cast(coalesce(b.balance_before, 0) - r.credits_drawn as {{ money_unrounded_type() }})
        as balance_after,
    r.event_type,
    r.price_id,
    r.quantity,
    r.currency
from rooms as r
left join balances as b on b.event_id = r.event_id
