{#
  One row per credit movement: a grant at purchased_at (+credits), a draw per (event, lot)
  (-amount), and an expiry at expires_at for what a lot had left (-remainder; only for lots with
  expires_at <= as_of(), and only when something was left). Per entity,
  sum(amount) = grants - draws - expiries = the balance as of as_of().
  A view: its draw rows are int_credit_drawdown's lists; int_credit_balances writes the ledger
  once, in order, with the running balance.
#}
{{ config(materialized='view') }}
with lots as (
    select purchase_id, entity_id, credits, purchased_at, expires_at, purchase_period, expiry_period
    from {{ ref('int_credit_lots') }}
),

draws as (
    select entity_id, user_id, event_id, purchase_id, occurred_at, period, amount, draw_seq
    from {{ ref('int_event_credit_draws') }}
),

drawn_per_lot as (
    select purchase_id, sum(amount) as drawn
    from draws
    group by purchase_id
),

grants as (
    select
        entity_id, purchase_id, 'grant' as entry_type, credits as amount,
        purchased_at as occurred_at, null as event_id, null as user_id, purchase_period as period,
        cast(null as integer) as draw_seq
    from lots
),

draw_entries as (
    select
        entity_id, purchase_id, 'draw' as entry_type, -amount as amount,
        occurred_at, event_id, user_id, period, draw_seq
    from draws
),

expiries as (
    select
        l.entity_id, l.purchase_id, 'expiry' as entry_type,
        -(l.credits - coalesce(d.drawn, 0)) as amount,
        l.expires_at as occurred_at, null as event_id, null as user_id, l.expiry_period as period,
        cast(null as integer) as draw_seq
    from lots as l
    left join drawn_per_lot as d on d.purchase_id = l.purchase_id
    where l.expires_at <= {{ as_of() }}
      and l.credits - coalesce(d.drawn, 0) > 0
),

entries as (
    select * from grants
    union all
    select * from draw_entries
    union all
    select * from expiries
)

select
    entity_id,
    purchase_id,
    entry_type,
    cast(amount as {{ money_unrounded_type() }}) as amount,
    occurred_at,
    cast(event_id as varchar) as event_id,
    cast(user_id as varchar) as user_id,
    period,
    case entry_type when 'grant' then 0 when 'expiry' then 1 else 2 end as entry_order,
    draw_seq
from entries
