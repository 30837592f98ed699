{#
  The contract's credit_ledger: one row per credit movement. Extra columns: the entity's
  currency, entry_seq (1.. per entity in ledger order: time, then grants, expiries, draws by
  event_id) and balance_after (the running balance after the row).
  A view: int_credit_balances already holds every row in order with its balance.
#}
{{ config(materialized='view') }}
with ledger as (
    select * from {{ ref('int_credit_balances') }}
),

entities as (
    select entity_id, currency
    from {{ ref('stg_entities') }}
)

select
    l.entity_id,
    l.purchase_id,
    l.entry_type,
    l.amount,
    l.occurred_at,
    l.event_id,
    l.user_id,
    l.period,
    e.currency,
    l.entry_seq,
    l.balance_after
from ledger as l
inner join entities as e on e.entity_id = l.entity_id
