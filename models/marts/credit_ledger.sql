{#
  The contract's credit_ledger: one row per credit movement. Extra columns: the entity's
  currency, entry_seq (1.. per entity in ledger order: time, then grants, expiries, draws by
  event_id) and balance_after (the running balance after the row).
#}
with ledger as (
    select * from {{ ref('int_credit_ledger') }}
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
    row_number() over (
        partition by l.entity_id
        order by l.occurred_at, l.entry_order, l.event_id, l.purchase_id
    ) as entry_seq,
    cast(
        sum(l.amount) over (
            partition by l.entity_id
            order by l.occurred_at, l.entry_order, l.event_id, l.purchase_id
            rows between unbounded preceding and current row
        ) as {{ money_unrounded_type() }}
    ) as balance_after
from ledger as l
inner join entities as e on e.entity_id = l.entity_id
