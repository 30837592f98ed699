-- Reconciliation: invoice lines ↔ invoices, per invoice (drafts and finalized), to the cent.
-- subtotal = sum of the rounded lines, credits_applied = −(credits applied lines),
-- total = subtotal + tax, line_count = number of lines, and for drafts
-- tax = round(subtotal × tax_rate) once per invoice. Every invoice has lines and every line
-- has its invoice. Returns the invoices that break a rule, with the rule.
with line_sums as (
    select
        invoice_id,
        sum(amount) as lines_amount,
        coalesce(-sum(amount) filter (where line_type = 'credits_applied'), 0) as lines_credits_applied,
        count(*) as line_count
    from {{ ref('invoice_lines') }}
    group by invoice_id
),

invoices as (
    select
        i.*,
        c.minor_unit
    from {{ ref('invoices') }} as i
    left join {{ ref('currencies') }} as c
        on c.currency = i.currency
),

checks as (
    select
        coalesce(i.invoice_id, l.invoice_id) as invoice_id,
        case
            when i.invoice_id is null then 'lines without an invoice'
            when l.invoice_id is null then 'invoice without lines'
            when i.subtotal <> l.lines_amount then 'subtotal <> sum of lines'
            when i.credits_applied <> l.lines_credits_applied then 'credits_applied <> credits applied lines'
            when i.total <> i.subtotal + i.tax then 'total <> subtotal + tax'
            when i.line_count <> l.line_count then 'line_count <> number of lines'
            when i.status = 'draft'
                and i.tax <> {{ round_money('i.subtotal * i.tax_rate', 'i.minor_unit') }}
                then 'tax <> round(subtotal × tax_rate)'
        end as broken_rule,
        i.subtotal,
        l.lines_amount,
        i.tax,
        i.total
    from invoices as i
    full outer join line_sums as l
        on l.invoice_id = i.invoice_id
)

select *
from checks
where broken_rule is not null
