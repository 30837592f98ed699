-- Reconciliation: rated events ↔ usage invoice lines, per (entity_id, period, price_id).
-- The events' unrounded amounts must sum exactly to the usage lines' unrounded amounts, and
-- the rounded lines may differ from that sum by at most half a minor unit per line.
-- Returns the mismatching (entity, period, price) rows.
with event_sums as (
    select
        entity_id,
        period,
        price_id,
        sum(amount) as events_amount
    from {{ ref('rated_events') }}
    group by entity_id, period, price_id
),

line_sums as (
    select
        entity_id,
        period,
        price_id,
        sum(amount_unrounded) as lines_amount_unrounded,
        sum(amount) as lines_amount_rounded,
        count(*) as line_count
    from {{ ref('int_invoice_lines_computed') }}
    where line_type = 'usage'
    group by entity_id, period, price_id
),

minor_units as (
    select
        e.entity_id,
        c.minor_unit
    from {{ ref('stg_entities') }} as e
    inner join {{ ref('currencies') }} as c
        on c.currency = e.currency
),

compared as (
    select
        coalesce(ev.entity_id, li.entity_id) as entity_id,
        coalesce(ev.period, li.period) as period,
        coalesce(ev.price_id, li.price_id) as price_id,
        coalesce(ev.events_amount, 0) as events_amount,
        coalesce(li.lines_amount_unrounded, 0) as lines_amount_unrounded,
        coalesce(li.lines_amount_rounded, 0) as lines_amount_rounded,
        coalesce(li.line_count, 0) as line_count
    from event_sums as ev
    full outer join line_sums as li
        on li.entity_id = ev.entity_id
        and li.period = ev.period
        and li.price_id = ev.price_id
)

select
    c.*,
    m.minor_unit
from compared as c
left join minor_units as m
    on m.entity_id = c.entity_id
where c.events_amount <> c.lines_amount_unrounded
    or m.minor_unit is null
    -- |rounded − exact| <= line_count × ½ × 10^-minor_unit, in integers: ×2×10^minor_unit
    or abs(c.lines_amount_rounded - c.events_amount) * 2 * cast(power(10, m.minor_unit) as bigint)
        > c.line_count
