-- Restatements of closed periods. For each closed (entity, original period, line_key): the line's
-- amount computed now minus what was already billed for it (the issued line plus every
-- adjustment line issued since for the same original period and line_key). Each non-zero
-- difference becomes an adjustment line on the entity's draft invoice of the first open period
-- (the period right after the last closed one). A line that disappeared (e.g. its events were
-- deleted) is credited back in full; a line that appeared is billed in full. The description
-- names the line and both sides: "Adjustment to 2026-09: <line> (billed $10.00, now $12.00)".
-- A view, so it follows billing.period_closes and billing.issued_* without a dbt run.
-- Grain: one row per (entity_id, original_period, original_line_key); all of them belong to
-- `period` = the first open period.
{{ config(materialized='view') }}

with entities as (
    select e.entity_id, e.currency, c.minor_unit, c.symbol
    from {{ ref('stg_entities') }} as e
    inner join {{ ref('currencies') }} as c
        on c.currency = e.currency
),

last_close as (
    select max(period) as closed_through
    from {{ source('billing', 'period_closes') }}
),

first_open as (
    select
        closed_through,
        strftime(strptime(closed_through || '-01', '%Y-%m-%d') + interval 1 month, '%Y-%m') as first_open_period
    from last_close
    where closed_through is not null
),

computed_closed as (
    select
        c.entity_id,
        c.period as original_period,
        c.line_key as original_line_key,
        c.line_type as original_line_type,
        c.description,
        c.price_id,
        c.plan_id,
        c.service_start,
        c.service_end,
        c.sort_key,
        c.amount
    from {{ ref('int_invoice_lines_computed') }} as c
    inner join first_open as f
        on c.period <= f.closed_through
),

issued_originals as (
    select
        entity_id,
        period as original_period,
        line_key as original_line_key,
        max(line_type) as original_line_type,
        max(description) as description,
        max(price_id) as price_id,
        max(plan_id) as plan_id,
        min(service_start) as service_start,
        max(service_end) as service_end,
        sum(amount) as amount
    from {{ source('billing', 'issued_invoice_lines') }}
    where line_type <> 'adjustment'
    group by entity_id, period, line_key
),

issued_adjustments as (
    -- a line may have been billed only through adjustments (it appeared after its period was
    -- closed): its name, price and plan then come from those adjustment lines, whose
    -- description is "Adjustment to <period>: <the line's description> (billed .., now ..)"
    select
        entity_id,
        original_period,
        original_line_key,
        split_part(original_line_key, '|', 1) as original_line_type,
        max(regexp_extract(description, '^Adjustment to [^:]+: (.*) \(billed .+, now .+\)$', 1))
            as description,
        max(price_id) as price_id,
        max(plan_id) as plan_id,
        min(service_start) as service_start,
        max(service_end) as service_end,
        sum(amount) as amount
    from (
        select
            *,
            regexp_extract(line_key, '^adjustment\|[^|]*\|(.*)$', 1) as original_line_key
        from {{ source('billing', 'issued_invoice_lines') }}
        where line_type = 'adjustment'
    ) as adjustment_lines
    group by entity_id, original_period, original_line_key
),

billed_so_far as (
    select
        coalesce(o.entity_id, a.entity_id) as entity_id,
        coalesce(o.original_period, a.original_period) as original_period,
        coalesce(o.original_line_key, a.original_line_key) as original_line_key,
        coalesce(o.original_line_type, a.original_line_type) as original_line_type,
        coalesce(o.description, nullif(a.description, '')) as description,
        coalesce(o.price_id, a.price_id) as price_id,
        coalesce(o.plan_id, a.plan_id) as plan_id,
        coalesce(o.service_start, a.service_start) as service_start,
        coalesce(o.service_end, a.service_end) as service_end,
        coalesce(o.amount, 0) + coalesce(a.amount, 0) as amount
    from issued_originals as o
    full outer join issued_adjustments as a
        on a.entity_id = o.entity_id
        and a.original_period = o.original_period
        and a.original_line_key = o.original_line_key
),

differences as (
    select
        coalesce(c.entity_id, b.entity_id) as entity_id,
        coalesce(c.original_period, b.original_period) as original_period,
        coalesce(c.original_line_key, b.original_line_key) as original_line_key,
        coalesce(c.original_line_type, b.original_line_type) as original_line_type,
        coalesce(c.description, b.description, coalesce(c.original_line_key, b.original_line_key)) as original_description,
        coalesce(c.price_id, b.price_id) as price_id,
        coalesce(c.plan_id, b.plan_id) as plan_id,
        coalesce(c.service_start, b.service_start) as service_start,
        coalesce(c.service_end, b.service_end) as service_end,
        coalesce(c.sort_key, '') as original_sort_key,
        coalesce(c.amount, 0) as computed_amount,
        coalesce(b.amount, 0) as billed_amount,
        cast(coalesce(c.amount, 0) - coalesce(b.amount, 0) as {{ money_type() }}) as amount
    from computed_closed as c
    full outer join billed_so_far as b
        on b.entity_id = c.entity_id
        and b.original_period = c.original_period
        and b.original_line_key = c.original_line_key
)

select
    d.entity_id,
    f.first_open_period as period,
    'adjustment' as line_type,
    'adjustment|' || d.original_period || '|' || d.original_line_key as line_key,
    'Adjustment to ' || d.original_period || ': ' || d.original_description
    || ' (billed ' || {{ format_money('d.billed_amount', 'e.minor_unit', 'e.symbol') }}
    || ', now ' || {{ format_money('d.computed_amount', 'e.minor_unit', 'e.symbol') }} || ')'
        as description,
    d.price_id,
    d.plan_id,
    cast(null as {{ money_type() }}) as quantity,
    cast(null as {{ money_unrounded_type() }}) as unit_price,
    d.amount,
    d.service_start,
    d.service_end,
    d.original_period,
    d.original_line_key,
    d.original_line_type,
    d.computed_amount,
    d.billed_amount,
    '5|' || d.original_period || '|' || d.original_sort_key || '|' || d.original_line_key as sort_key,
    e.currency
from differences as d
cross join first_open as f
inner join entities as e
    on e.entity_id = d.entity_id
where d.amount <> 0
