{{ config(materialized='view') }}
{#
  The only events the sequential drawdown (int_event_credit_draws) has to look at: a positive
  amount and at least one lot of its entity valid at its instant
  (purchased_at <= occurred_at < expires_at). Every other event draws nothing, and leaving it
  out changes no user's room (room only shrinks by draws).
#}
with lots as (
    select entity_id, purchased_at, expires_at
    from {{ ref('int_credit_lots') }}
    where credits > 0
),

events as (
    select event_id, entity_id, user_id, occurred_at, period, amount
    from {{ ref('int_rated_events') }}
    where amount > 0
),

limits as (
    select entity_id, user_id, credit_limit
    from {{ ref('stg_entity_users') }}
),

events_in_a_lot_window as (
    select e.*
    from events as e
    where exists (
        select 1
        from lots as l
        where l.entity_id = e.entity_id
          and l.purchased_at <= e.occurred_at
          and e.occurred_at < l.expires_at
    )
)

select
    e.entity_id,
    e.event_id,
    e.user_id,
    e.occurred_at,
    e.period,
    epoch_us(e.occurred_at) as occurred_us,
    cast(e.amount as {{ money_unrounded_type() }}) as amount,
    cast(l.credit_limit as {{ money_unrounded_type() }}) as credit_limit
from events_in_a_lot_window as e
left join limits as l on l.entity_id = e.entity_id and l.user_id = e.user_id
