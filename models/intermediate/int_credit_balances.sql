{#
  The credit ledger in order, with the entity's running balance after each row.
  Grain: one row per ledger movement (int_credit_ledger).
  Order per entity: occurred_at, then grants, expiries, draws (entry_order), then event_id, the
  draw's place in its event (draw_seq) and purchase_id. entry_seq numbers the rows 1.. per
  entity in that order; balance_after is the sum
  of the entity's movements up to and including the row. One window pass: both columns share
  its partition and order.
#}
with ledger as (
    select * from {{ ref('int_credit_ledger') }}
)

select
    entity_id,
    purchase_id,
    entry_type,
    amount,
    occurred_at,
    event_id,
    user_id,
    period,
    entry_order,
    row_number() over entity_order as entry_seq,
    cast(sum(amount) over entity_order as {{ money_unrounded_type() }}) as balance_after
from ledger
window entity_order as (
    partition by entity_id
    order by occurred_at, entry_order, event_id, draw_seq, purchase_id
    rows between unbounded preceding and current row
)
