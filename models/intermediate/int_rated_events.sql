{#
  What each billable event costs, before credits.
  Grain: one row per billable event_id.

  Quantities count per (entity_id, period, price_id) across the price's versions, in
  (occurred_at, event_id) order; each event is priced by its own version (int_price_tiers):
    graduated:  F(units_after) - F(units_before), F the version's cost function: the event's
                units tier by tier, plus the flat fee of every tier its units enter.
    package:    the packages the event opens, ceil(after / size) - ceil(before / size), at
                unit_price each.
    volume:     quantity x the unit_price of the tier holding the period total Q; the tier's
                flat fee falls on the period's first event (units_before = 0).
    per_unit:   quantity x unit_price.
    percentage: input amount x percent, raised to min_fee, then cut to max_fee.
  Only graduated, package and volume events are put in order (int_event_unit_counts: the count
  after each event, joined back on the integer event_key); nothing is ever expanded per tier.
  One pass over the events: each lookup is a left join on a small table that only matches the
  events of its model. The amounts of a price sum exactly to its usage lines (int_usage_lines;
  tests/dbt/reconcile_rated_events_to_usage_lines).
#}
with events as (
    select * from {{ ref('int_billable_events') }}
),

unit_counts as (
    select event_key, units_after from {{ ref('int_event_unit_counts') }}
),

tiers as (
    select * from {{ ref('int_price_tiers') }}
),

single_rate_versions as (
    -- the row that prices a per_unit, package or percentage version
    select * from tiers where is_version_rate
),

graduated_tiers as (
    select * from tiers where model = 'graduated'
),

volume_tiers as (
    -- for each (entity, period, price, version) of volume events: the tier holding Q, the
    -- period's total units across the price's versions
    select
        v.entity_id,
        v.period,
        v.price_id,
        v.price_valid_from,
        t.unit_price,
        t.flat_fee
    from (
        select
            entity_id,
            period,
            price_id,
            price_valid_from,
            sum(sum(quantity)) over (partition by entity_id, period, price_id) as period_units
        from {{ ref('int_billable_events') }}
        where model = 'volume'
        group by entity_id, period, price_id, price_valid_from
    ) as v
    inner join tiers as t
        on t.price_id = v.price_id
        and t.valid_from = v.price_valid_from
        and t.tier_from < v.period_units
        and (t.tier_to is null or v.period_units <= t.tier_to)
),

counted as (
    select
        e.*,
        u.units_after - e.quantity as units_before,
        u.units_after
    from events as e
    left join unit_counts as u
        on u.event_key = e.event_key
),

priced as (
    select
        c.*,
        case c.model
            when 'graduated' then
                (t_after.cost_before + t_after.flat_fee
                    + (c.units_after - t_after.tier_from) * t_after.unit_price)
                - coalesce(
                    t_before.cost_before + t_before.flat_fee
                        + (c.units_before - t_before.tier_from) * t_before.unit_price,
                    0
                )
            when 'package' then
                (
                    (c.units_after + s.package_size - 1) // s.package_size
                    - (c.units_before + s.package_size - 1) // s.package_size
                ) * s.unit_price
            when 'volume' then
                c.quantity * v.unit_price + case when c.units_before = 0 then v.flat_fee else 0 end
            when 'per_unit' then
                c.quantity * s.unit_price
            when 'percentage' then
                case
                    when s.max_fee is not null
                        and greatest(c.input_amount * s.percent, coalesce(s.min_fee, c.input_amount * s.percent)) > s.max_fee
                        then s.max_fee
                    else greatest(c.input_amount * s.percent, coalesce(s.min_fee, c.input_amount * s.percent))
                end
        end as amount
    from counted as c
    left join graduated_tiers as t_after
        on t_after.price_id = c.price_id
        and t_after.valid_from = c.price_valid_from
        and t_after.tier_from < c.units_after
        and (t_after.tier_to is null or c.units_after <= t_after.tier_to)
    left join graduated_tiers as t_before
        on t_before.price_id = c.price_id
        and t_before.valid_from = c.price_valid_from
        and t_before.tier_from < c.units_before
        and (t_before.tier_to is null or c.units_before <= t_before.tier_to)
    left join single_rate_versions as s
        on s.price_id = c.price_id
        and s.valid_from = c.price_valid_from
    left join volume_tiers as v
        on v.entity_id = c.entity_id
        and v.period = c.period
        and v.price_id = c.price_id
        and v.price_valid_from = c.price_valid_from
)

select
    event_key,
    entity_key,
    event_id,
    entity_id,
    user_id,
    occurred_at,
    period,
    price_id,
    price_valid_from,
    quantity,
    cast(input_amount as {{ money_unrounded_type() }}) as input_amount,
    units_before,
    cast(amount as {{ money_unrounded_type() }}) as amount
from priced
