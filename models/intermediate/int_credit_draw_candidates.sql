{{ config(materialized='view') }}
{#
  The only events the sequential drawdown (int_credit_drawdown) has to look at: a positive
  amount, inside its entity's credit span (from the first purchase of a lot with credits to the
  last expiry: purchased_at <= occurred_at < expires_at for the span). Every other event draws
  nothing and can be no overage (no credits are available to it), and leaving it out changes no
  user's room (room only shrinks by draws). Inside the span the drawdown itself finds the lots
  valid at each instant; an event in a gap between lots draws nothing there.
  One hash join on a per-entity span (a few thousand rows), no per-lot range join.
#}
with credit_spans as (
    select
        entity_id,
        min(purchased_at) as first_purchased_at,
        max(expires_at) as last_expires_at
    from {{ ref('int_credit_lots') }}
    where credits > 0
    group by entity_id
),

events as (
    select event_key, entity_key, event_id, entity_id, user_id, occurred_at, period, amount
    from {{ ref('int_rated_events') }}
    where amount > 0
),

limits as (
    select entity_id, user_id, credit_limit
    from {{ ref('stg_entity_users') }}
)

select
    e.event_key,
    e.entity_key,
    e.entity_id,
    e.event_id,
    e.user_id,
    e.occurred_at,
    e.period,
    {{ epoch_us('e.occurred_at') }} as occurred_us,
    cast(e.amount as {{ money_unrounded_type() }}) as amount,
    cast(l.credit_limit as {{ money_unrounded_type() }}) as credit_limit
from events as e
inner join credit_spans as s
    on s.entity_id = e.entity_id
    and s.first_purchased_at <= e.occurred_at
    and e.occurred_at < s.last_expires_at
left join limits as l
    on l.entity_id = e.entity_id
    and l.user_id = e.user_id
