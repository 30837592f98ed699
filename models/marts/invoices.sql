-- Invoices as analysts and the close see them: finalized invoices of closed periods (from
-- billing.issued_invoices, never changing) and one draft invoice per (entity, open period) that
-- has any draft line. Draft subtotal = sum of its rounded lines (credits applied and
-- adjustments included); tax = round(subtotal × tax_rate) once per invoice; total = subtotal + tax.
-- A view, so a close (which writes billing.*) shows at once without a dbt run.
-- Grain: one row per invoice_id (= '<entity_id>:<period>'); unique per (entity_id, period).
{{ config(materialized='view') }}

with entities as (
    select
        e.entity_id,
        e.organization_id,
        e.currency,
        e.tax_rate,
        c.minor_unit
    from {{ ref('stg_entities') }} as e
    inner join {{ ref('currencies') }} as c
        on c.currency = e.currency
),

issued_line_counts as (
    select
        invoice_id,
        count(*) as line_count
    from {{ source('billing', 'issued_invoice_lines') }}
    group by invoice_id
),

issued_invoices as (
    select
        i.invoice_id,
        i.invoice_number,
        i.entity_id,
        i.organization_id,
        i.period,
        i.currency,
        'finalized' as status,
        i.subtotal,
        i.credits_applied,
        i.tax,
        i.total,
        i.issued_at,
        i.pdf_path,
        i.pdf_sha256,
        i.due_at,
        i.close_run_id,
        coalesce(n.line_count, 0) as line_count,
        -- the rate in force when the invoice was issued
        cast(i.tax_rate as {{ money_unrounded_type() }}) as tax_rate
    from {{ source('billing', 'issued_invoices') }} as i
    left join issued_line_counts as n
        on n.invoice_id = i.invoice_id
),

draft_sums as (
    select
        invoice_id,
        entity_id,
        period,
        sum(amount) as subtotal,
        coalesce(-sum(amount) filter (where line_type = 'credits_applied'), 0) as credits_applied,
        count(*) as line_count
    from {{ ref('invoice_lines') }}
    where status = 'draft'
    group by invoice_id, entity_id, period
),

draft_taxed as (
    select
        d.invoice_id,
        d.entity_id,
        e.organization_id,
        d.period,
        e.currency,
        d.subtotal,
        d.credits_applied,
        {{ round_money('d.subtotal * e.tax_rate', 'e.minor_unit') }} as tax,
        d.line_count,
        e.tax_rate
    from draft_sums as d
    inner join entities as e
        on e.entity_id = d.entity_id
),

draft_invoices as (
    select
        invoice_id,
        cast(null as varchar) as invoice_number,
        entity_id,
        organization_id,
        period,
        currency,
        'draft' as status,
        subtotal,
        credits_applied,
        tax,
        subtotal + tax as total,
        cast(null as timestamptz) as issued_at,
        cast(null as varchar) as pdf_path,
        cast(null as varchar) as pdf_sha256,
        cast(null as timestamptz) as due_at,
        cast(null as varchar) as close_run_id,
        line_count,
        tax_rate
    from draft_taxed
),

all_invoices as (
    select * from issued_invoices
    union all
    select * from draft_invoices
)

select
    cast(invoice_id as varchar) as invoice_id,
    cast(invoice_number as varchar) as invoice_number,
    cast(entity_id as varchar) as entity_id,
    cast(organization_id as varchar) as organization_id,
    cast(period as varchar) as period,
    cast(currency as varchar) as currency,
    cast(status as varchar) as status,
    cast(subtotal as {{ money_type() }}) as subtotal,
    cast(credits_applied as {{ money_type() }}) as credits_applied,
    cast(tax as {{ money_type() }}) as tax,
    cast(total as {{ money_type() }}) as total,
    cast(issued_at as timestamptz) as issued_at,
    cast(pdf_path as varchar) as pdf_path,
    cast(pdf_sha256 as varchar) as pdf_sha256,
    cast(due_at as timestamptz) as due_at,
    cast(close_run_id as varchar) as close_run_id,
    cast(line_count as integer) as line_count,
    cast(tax_rate as {{ money_unrounded_type() }}) as tax_rate
from all_invoices
