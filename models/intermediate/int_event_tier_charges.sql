-- What each billable event is charged, per tier its units reach.
-- Grain: one row per (event_id, tier reached by it); non-tiered models have one row per event.
-- Quantities count per (entity_id, period, price_id) across the price's versions, in
-- (occurred_at, event_id) order; each event is priced by the tiers of its own version.
--   graduated: the event's units between the cumulative count before and after it, split by
--              tier; a tier's flat_fee falls on the event whose units first enter it.
--   volume:    the tier holding the period total Q prices the event's quantity; that tier's
--              flat_fee falls on the period's first event (the one with nothing counted before).
--   package:   the packages the event opens: ceil(after / size) - ceil(before / size).
--   per_unit:  quantity x unit_price.   percentage: input amount x percent, within min/max fee.
-- Only graduated, volume and package events need the running count (one window pass); only
-- graduated and volume events are joined to their tiers.
{%- set event_columns %}
        e.event_id,
        e.entity_id,
        e.user_id,
        e.event_type,
        e.occurred_at,
        e.quantity as event_quantity,
        e.currency,
        e.period,
        e.price_id,
        e.price_valid_from,
        e.model,
        t.tier_from,
        t.tier_to
{%- endset %}
with events as (
    select * from {{ ref('int_billable_events') }}
),

tiers as (
    select * from {{ ref('stg_event_prices') }}
),

single_rate_versions as (
    -- per_unit, package and percentage versions have one row (the lowest tier_from if more)
    select *
    from tiers
    where model in ('per_unit', 'package', 'percentage')
    qualify row_number() over (partition by price_id, valid_from order by tier_from) = 1
),

counted_events as (
    -- cumulative units after each event and the period total, per (entity, period, price)
    select
        events.*,
        cast(sum(quantity) over in_order as bigint) as units_after,
        cast(sum(quantity) over (partition by entity_id, period, price_id) as bigint) as period_units
    from events
    where model in ('graduated', 'volume', 'package')
    window in_order as (
        partition by entity_id, period, price_id
        order by occurred_at, event_id
        rows between unbounded preceding and current row
    )
),

graduated_charges as (
    select
        {{ event_columns }},
        least(e.units_after, coalesce(t.tier_to, e.units_after))
            - greatest(e.units_after - e.quantity, t.tier_from) as units,
        coalesce(t.unit_price, 0) as unit_price,
        case
            when e.units_after - e.quantity <= t.tier_from then coalesce(t.flat_fee, 0) else 0
        end as flat_fee,
        cast(null as bigint) as packages,
        cast(null as {{ money_unrounded_type() }}) as base_amount
    from counted_events as e
    inner join tiers as t
        on t.price_id = e.price_id
        and t.valid_from = e.price_valid_from
        and t.tier_from < e.units_after
        and (t.tier_to is null or t.tier_to > e.units_after - e.quantity)
    where e.model = 'graduated'
),

volume_charges as (
    select
        {{ event_columns }},
        e.quantity as units,
        coalesce(t.unit_price, 0) as unit_price,
        case when e.units_after = e.quantity then coalesce(t.flat_fee, 0) else 0 end as flat_fee,
        cast(null as bigint) as packages,
        cast(null as {{ money_unrounded_type() }}) as base_amount
    from counted_events as e
    inner join tiers as t
        on t.price_id = e.price_id
        and t.valid_from = e.price_valid_from
        and t.tier_from < e.period_units
        and (t.tier_to is null or e.period_units <= t.tier_to)
    where e.model = 'volume'
),

package_charges as (
    select
        {{ event_columns }},
        e.quantity as units,
        coalesce(t.unit_price, 0) as unit_price,
        cast(0 as {{ money_unrounded_type() }}) as flat_fee,
        (e.units_after + t.package_size - 1) // t.package_size
            - (e.units_after - e.quantity + t.package_size - 1) // t.package_size as packages,
        cast(null as {{ money_unrounded_type() }}) as base_amount
    from counted_events as e
    inner join single_rate_versions as t
        on t.price_id = e.price_id
        and t.valid_from = e.price_valid_from
    where e.model = 'package'
),

uncounted_charges as (
    select
        {{ event_columns }},
        e.quantity as units,
        coalesce(t.unit_price, 0) as unit_price,
        cast(0 as {{ money_unrounded_type() }}) as flat_fee,
        cast(null as bigint) as packages,
        case when e.model = 'percentage' then e.input_amount end as base_amount,
        t.percent,
        t.min_fee,
        t.max_fee
    from events as e
    inner join single_rate_versions as t
        on t.price_id = e.price_id
        and t.valid_from = e.price_valid_from
    where e.model in ('per_unit', 'percentage')
),

uncounted_raised_fees as (
    -- percentage: amount x percent, raised to min_fee (then cut to max_fee below)
    select
        *,
        case
            when min_fee is not null
                and cast(base_amount * percent as {{ money_unrounded_type() }}) < min_fee
                then min_fee
            else cast(base_amount * percent as {{ money_unrounded_type() }})
        end as raised_fee
    from uncounted_charges
),

uncounted_amounts as (
    select
        * exclude (percent, min_fee, max_fee, raised_fee),
        case
            when model = 'per_unit' then cast(units * unit_price as {{ money_unrounded_type() }})
            when max_fee is not null and raised_fee > max_fee then max_fee
            else raised_fee
        end as amount
    from uncounted_raised_fees
),

counted_amounts as (
    select
        *,
        case
            when model = 'package' then cast(packages * unit_price as {{ money_unrounded_type() }})
            else cast(units * unit_price + flat_fee as {{ money_unrounded_type() }})
        end as amount
    from (
        select * from graduated_charges
        union all
        select * from volume_charges
        union all
        select * from package_charges
    ) as counted_charges
),

all_charges as (
    select * from counted_amounts
    union all
    select * from uncounted_amounts
)

select
    event_id,
    entity_id,
    user_id,
    event_type,
    occurred_at,
    event_quantity,
    currency,
    period,
    price_id,
    price_valid_from,
    model,
    tier_from,
    tier_to,
    units,
    cast(unit_price as {{ money_unrounded_type() }}) as unit_price,
    cast(flat_fee as {{ money_unrounded_type() }}) as flat_fee,
    packages,
    base_amount,
    cast(amount as {{ money_unrounded_type() }}) as amount
from all_charges
