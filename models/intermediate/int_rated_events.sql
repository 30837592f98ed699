-- The amount of each billable event: the sum of its tier charges.
-- Grain: one row per billable event. A price's event amounts sum exactly to its usage lines'
-- unrounded total (both are sums of int_event_tier_charges).
with events as (
    select * from {{ ref('int_billable_events') }}
),

event_amounts as (
    select
        event_id,
        cast(sum(amount) as {{ money_unrounded_type() }}) as amount
    from {{ ref('int_event_tier_charges') }}
    group by event_id
)

select
    e.event_id,
    e.entity_id,
    e.user_id,
    e.event_type,
    e.occurred_at,
    e.local_date,
    e.period,
    e.price_id,
    e.price_valid_from,
    e.model,
    e.currency,
    e.quantity,
    e.input_amount,
    a.amount
from events as e
left join event_amounts as a
    on a.event_id = e.event_id
