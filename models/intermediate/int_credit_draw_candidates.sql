{{ config(materialized='view') }}
{#
  The only events the sequential drawdown (int_credit_drawdown) has to look at: a positive
  amount, inside its entity's credit span (from the first purchase of a lot with credits to the
  last expiry: purchased_at <= occurred_at < expires_at for the span). Every other event draws
  nothing and can be no overage (no credits are available to it), and leaving it out changes no
  user's room (room only shrinks by draws). Inside the span the drawdown itself finds the lots
  valid at each instant; an event in a gap between lots draws nothing there.
  One hash join on a per-entity span (a few thousand rows), no per-lot range join.
  Integer identities (tens of millions of rows are sorted and handed to Python from here):
  entity_key, member_key (the user's membership in the entity: whose room the event uses),
  period_key (yyyymm) and event_key; the drawdown joins the ids back for the few rows it keeps.
  event_id is here for the sort's last key only (events of one entity at one instant are
  common: second-precision timestamps, batch imports).
#}
with credit_spans as (
    select
        entity_key,
        min(purchased_at) as first_purchased_at,
        max(expires_at) as last_expires_at
    from {{ ref('int_credit_lots') }}
    where credits > 0
    group by entity_key
),

events as (
    select event_key, event_id, entity_key, entity_id, user_id, occurred_at, period, amount
    from {{ ref('int_rated_events') }}
    where amount > 0
),

memberships as (
    select
        entity_id,
        user_id,
        credit_limit,
        row_number() over (order by entity_id, user_id) as member_key
    from {{ ref('stg_entity_users') }}
)

select
    e.event_key,
    e.event_id,
    e.entity_key,
    m.member_key,
    cast(replace(e.period, '-', '') as integer) as period_key,
    e.occurred_at,
    {{ epoch_us('e.occurred_at') }} as occurred_us,
    cast(e.amount as {{ money_unrounded_type() }}) as amount,
    cast(m.credit_limit as {{ money_unrounded_type() }}) as credit_limit
from events as e
inner join credit_spans as s
    on s.entity_key = e.entity_key
    and s.first_purchased_at <= e.occurred_at
    and e.occurred_at < s.last_expires_at
left join memberships as m
    on m.entity_id = e.entity_id
    and m.user_id = e.user_id
