-- Reconciliation: the credit ledger per entity and per lot.
-- grants − draws − expiries (the signed sum) is the balance and never negative; grants are
-- positive, draws and expiries negative; an expired lot ends at exactly 0; a lot's draws never
-- exceed its grant. Returns the (entity, lot) rows that break a rule.
with lots as (
    select
        entity_id,
        purchase_id,
        sum(amount) filter (where entry_type = 'grant') as granted,
        -sum(amount) filter (where entry_type = 'draw') as drawn,
        -sum(amount) filter (where entry_type = 'expiry') as expired,
        sum(amount) as balance,
        count(*) filter (where entry_type = 'grant' and amount <= 0) as bad_grants,
        count(*) filter (where entry_type in ('draw', 'expiry') and amount >= 0) as bad_debits,
        count(*) filter (where entry_type = 'grant') as grant_rows,
        count(*) filter (where entry_type = 'expiry') as expiry_rows
    from {{ ref('int_credit_ledger') }}
    group by entity_id, purchase_id
),

entities as (
    select
        entity_id,
        sum(balance) as balance
    from lots
    group by entity_id
)

select
    l.entity_id,
    l.purchase_id,
    l.granted,
    l.drawn,
    l.expired,
    l.balance,
    e.balance as entity_balance
from lots as l
inner join entities as e
    on e.entity_id = l.entity_id
where l.balance < 0
    or e.balance < 0
    or l.grant_rows <> 1
    or l.expiry_rows > 1
    or l.bad_grants > 0
    or l.bad_debits > 0
    or coalesce(l.granted, 0) - coalesce(l.drawn, 0) - coalesce(l.expired, 0) <> l.balance
    or (l.expiry_rows = 1 and l.balance <> 0)
