-- Invoice lines as analysts and the close see them: the issued lines of finalized invoices
-- (closed periods, from billing.issued_invoice_lines, never changing) and the draft lines of
-- open periods (computed now, plus restatement adjustments on the first open period).
-- A view, so a close (which writes billing.*) shows at once without a dbt run.
-- Grain: one row per (invoice_id, line_number); also unique per (invoice_id, line_key).
{{ config(materialized='view') }}

with last_close as (
    select max(period) as closed_through
    from {{ source('billing', 'period_closes') }}
),

issued_lines as (
    select
        l.invoice_id,
        l.line_number,
        l.entity_id,
        l.period,
        l.line_type,
        l.description,
        l.price_id,
        l.plan_id,
        l.quantity,
        l.unit_price,
        l.amount,
        l.service_start,
        l.service_end,
        l.original_period,
        l.line_key,
        i.currency,
        'finalized' as status
    from {{ source('billing', 'issued_invoice_lines') }} as l
    inner join {{ source('billing', 'issued_invoices') }} as i
        on i.invoice_id = l.invoice_id
),

open_computed_lines as (
    select
        c.entity_id,
        c.period,
        c.line_type,
        c.line_key,
        c.description,
        c.price_id,
        c.plan_id,
        c.quantity,
        c.unit_price,
        c.amount,
        c.service_start,
        c.service_end,
        cast(null as varchar) as original_period,
        c.sort_key,
        c.currency
    from {{ ref('int_invoice_lines_computed') }} as c
    cross join last_close as lc
    where lc.closed_through is null or c.period > lc.closed_through
),

adjustment_lines as (
    select
        entity_id,
        period,
        line_type,
        line_key,
        description,
        price_id,
        plan_id,
        quantity,
        unit_price,
        amount,
        service_start,
        service_end,
        original_period,
        sort_key,
        currency
    from {{ ref('int_invoice_adjustments') }}
),

draft_lines as (
    select * from open_computed_lines
    union all
    select * from adjustment_lines
),

numbered_draft_lines as (
    select
        entity_id || ':' || period as invoice_id,
        cast(row_number() over (
            partition by entity_id, period order by sort_key, line_key
        ) as integer) as line_number,
        entity_id,
        period,
        line_type,
        description,
        price_id,
        plan_id,
        quantity,
        unit_price,
        amount,
        service_start,
        service_end,
        original_period,
        line_key,
        currency,
        'draft' as status
    from draft_lines
),

all_lines as (
    select * from issued_lines
    union all
    select * from numbered_draft_lines
)

select
    cast(invoice_id as varchar) as invoice_id,
    cast(line_number as integer) as line_number,
    cast(entity_id as varchar) as entity_id,
    cast(period as varchar) as period,
    cast(line_type as varchar) as line_type,
    cast(description as varchar) as description,
    cast(price_id as varchar) as price_id,
    cast(plan_id as varchar) as plan_id,
    cast(quantity as {{ money_type() }}) as quantity,
    cast(unit_price as {{ money_unrounded_type() }}) as unit_price,
    cast(amount as {{ money_type() }}) as amount,
    cast(service_start as timestamptz) as service_start,
    cast(service_end as timestamptz) as service_end,
    cast(original_period as varchar) as original_period,
    cast(line_key as varchar) as line_key,
    cast(currency as varchar) as currency,
    cast(status as varchar) as status
from all_lines
