-- The amount of each billable event: the sum of its tier charges.
-- Grain: one row per billable event. A price's event amounts sum exactly to its usage lines'
-- unrounded total (both are sums of int_event_tier_charges). Only graduated events can reach
-- several tiers; every other event has exactly one charge row and needs no aggregation.
with charges as (
    select * from {{ ref('int_event_tier_charges') }}
),

single_charge_events as (
    select
        event_id,
        entity_id,
        user_id,
        event_type,
        occurred_at,
        period,
        price_id,
        price_valid_from,
        model,
        currency,
        event_quantity as quantity,
        base_amount as input_amount,
        amount
    from charges
    where model <> 'graduated'
),

graduated_events as (
    select
        event_id,
        min(entity_id) as entity_id,
        min(user_id) as user_id,
        min(event_type) as event_type,
        min(occurred_at) as occurred_at,
        min(period) as period,
        min(price_id) as price_id,
        min(price_valid_from) as price_valid_from,
        min(model) as model,
        min(currency) as currency,
        min(event_quantity) as quantity,
        cast(null as {{ money_unrounded_type() }}) as input_amount,
        cast(sum(amount) as {{ money_unrounded_type() }}) as amount
    from charges
    where model = 'graduated'
    group by event_id
)

select * from single_charge_events
union all
select * from graduated_events
