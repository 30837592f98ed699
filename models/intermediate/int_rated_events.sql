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
  after each event, joined back on the integer event_key); nothing is ever expanded per tier. The amounts of a price sum
  exactly to its usage lines (int_usage_lines; tests/dbt/reconcile_rated_events_to_usage_lines).
#}
{%- set event_columns %}
        e.event_key,
        e.entity_key,
        e.event_id,
        e.entity_id,
        e.user_id,
        e.event_type,
        e.occurred_at,
        e.period,
        e.quantity,
        e.input_amount,
        e.price_id,
        e.price_valid_from,
        e.model,
        e.currency
{%- endset %}
with events as (
    select
        event_key,
        entity_key,
        price_key,
        event_id,
        entity_id,
        user_id,
        event_type,
        occurred_at,
        period,
        quantity,
        input_amount,
        price_id,
        price_valid_from,
        model,
        currency
    from {{ ref('int_billable_events') }}
),

tiers as (
    select * from {{ ref('int_price_tiers') }}
),

single_rate_versions as (
    -- per_unit, package and percentage versions have one row (the lowest tier_from if more)
    select *
    from tiers
    where model in ('per_unit', 'package', 'percentage')
    qualify row_number() over (partition by price_id, valid_from order by tier_from) = 1
),

counted_events as (
    select
        e.*,
        u.units_after - e.quantity as units_before,
        u.units_after
    from events as e
    inner join {{ ref('int_event_unit_counts') }} as u
        on u.event_key = e.event_key
),

volume_totals as (
    select
        entity_id,
        period,
        price_id,
        cast(sum(quantity) as bigint) as period_units
    from events
    where model = 'volume'
    group by entity_id, period, price_id
),

graduated_amounts as (
    select
        {{ event_columns }},
        e.units_before,
        (t_after.cost_before + t_after.flat_fee + (e.units_after - t_after.tier_from) * t_after.unit_price)
        - coalesce(
            t_before.cost_before + t_before.flat_fee + (e.units_before - t_before.tier_from) * t_before.unit_price,
            0
        ) as amount
    from counted_events as e
    left join tiers as t_after
        on t_after.price_id = e.price_id
        and t_after.valid_from = e.price_valid_from
        and t_after.tier_from < e.units_after
        and (t_after.tier_to is null or e.units_after <= t_after.tier_to)
    left join tiers as t_before
        on t_before.price_id = e.price_id
        and t_before.valid_from = e.price_valid_from
        and t_before.tier_from < e.units_before
        and (t_before.tier_to is null or e.units_before <= t_before.tier_to)
    where e.model = 'graduated'
),

package_amounts as (
    select
        {{ event_columns }},
        e.units_before,
        (
            (e.units_after + t.package_size - 1) // t.package_size
            - (e.units_before + t.package_size - 1) // t.package_size
        ) * t.unit_price as amount
    from counted_events as e
    left join single_rate_versions as t
        on t.price_id = e.price_id
        and t.valid_from = e.price_valid_from
    where e.model = 'package'
),

volume_amounts as (
    select
        {{ event_columns }},
        e.units_before,
        e.quantity * t.unit_price + case when e.units_before = 0 then t.flat_fee else 0 end as amount
    from counted_events as e
    inner join volume_totals as v
        on v.entity_id = e.entity_id
        and v.period = e.period
        and v.price_id = e.price_id
    left join tiers as t
        on t.price_id = e.price_id
        and t.valid_from = e.price_valid_from
        and t.tier_from < v.period_units
        and (t.tier_to is null or v.period_units <= t.tier_to)
    where e.model = 'volume'
),

percentage_fees as (
    -- input amount x percent, raised to min_fee (and cut to max_fee below)
    select
        {{ event_columns }},
        t.min_fee,
        t.max_fee,
        case
            when t.min_fee is not null
                and cast(e.input_amount * t.percent as {{ money_unrounded_type() }}) < t.min_fee
                then t.min_fee
            else cast(e.input_amount * t.percent as {{ money_unrounded_type() }})
        end as raised_fee
    from events as e
    left join single_rate_versions as t
        on t.price_id = e.price_id
        and t.valid_from = e.price_valid_from
    where e.model = 'percentage'
),

percentage_amounts as (
    select
        event_key, entity_key, event_id, entity_id, user_id, event_type, occurred_at, period,
        quantity, input_amount, price_id, price_valid_from, model, currency,
        cast(null as bigint) as units_before,
        case when max_fee is not null and raised_fee > max_fee then max_fee else raised_fee end as amount
    from percentage_fees
),

per_unit_amounts as (
    select
        {{ event_columns }},
        cast(null as bigint) as units_before,
        e.quantity * t.unit_price as amount
    from events as e
    left join single_rate_versions as t
        on t.price_id = e.price_id
        and t.valid_from = e.price_valid_from
    where e.model = 'per_unit'
),

rated as (
    select * from graduated_amounts
    union all
    select * from package_amounts
    union all
    select * from volume_amounts
    union all
    select * from percentage_amounts
    union all
    select * from per_unit_amounts
)

select
    event_key,
    entity_key,
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
    quantity,
    cast(input_amount as {{ money_unrounded_type() }}) as input_amount,
    units_before,
    cast(amount as {{ money_unrounded_type() }}) as amount
from rated
