-- Usage to invoice: one line per price version and tier reached in the period.
-- Grain: one row per (entity_id, period, price_id, price_valid_from, tier_from).
-- Built from per-version totals of int_rated_events, never from per-event tier rows: the events
-- of one version are consecutive in the period's count (versions follow each other in time), so
-- a version's events cover the units (units_before, units_before + units] of the count.
--   graduated: one line per tier that range reaches: the units inside the tier at its price,
--              plus its flat fee when the range enters the tier (units_before <= tier_from).
--   volume:    one line at the tier holding the period total Q (the flat fee on the version
--              that holds the period's first event).
--   package:   packages opened = ceil(end / size) - ceil(units_before / size).
--   per_unit, percentage: the sum of the events' amounts.
-- amount is unrounded and equals the sum of the line's event amounts (F telescopes over
-- consecutive events); the invoice-lines model rounds it once. event_count is the number of
-- events of the version. description_basis (event type, tier range, price) is the raw material
-- of the customer-readable line description.
with events as (
    select * from {{ ref('int_rated_events') }}
),

tiers as (
    select * from {{ ref('int_price_tiers') }}
),

event_totals as (
    select
        entity_id,
        period,
        price_id,
        price_valid_from,
        cast(sum(quantity) as bigint) as units,
        cast(min(units_before) as bigint) as units_before,
        count(*) as event_count,
        cast(sum(input_amount) as {{ money_unrounded_type() }}) as base_amount,
        cast(sum(amount) as {{ money_unrounded_type() }}) as amount
    from events
    group by entity_id, period, price_id, price_valid_from
),

version_models as (
    -- every row of a price_id has the same model (the loader checks it)
    select price_id, valid_from, min(model) as model
    from tiers
    group by price_id, valid_from
),

version_totals as (
    select
        e.*,
        m.model
    from event_totals as e
    inner join version_models as m
        on m.price_id = e.price_id
        and m.valid_from = e.price_valid_from
),

period_totals as (
    -- Q per (entity, period, price) across versions: what picks the volume tier
    select
        entity_id,
        period,
        price_id,
        sum(units) as period_units
    from version_totals
    group by entity_id, period, price_id
),

graduated_lines as (
    select
        v.entity_id,
        v.period,
        v.price_id,
        v.price_valid_from,
        t.tier_from,
        cast(
            least(v.units_before + v.units, coalesce(t.tier_to, v.units_before + v.units))
            - greatest(v.units_before, t.tier_from)
            as bigint
        ) as units,
        cast(null as bigint) as packages,
        cast(null as {{ money_unrounded_type() }}) as base_amount,
        case when v.units_before <= t.tier_from then t.flat_fee else 0 end as flat_fee,
        v.event_count,
        cast(greatest(v.units_before, t.tier_from) + 1 as bigint) as first_unit,
        t.unit_price
    from version_totals as v
    inner join tiers as t
        on t.price_id = v.price_id
        and t.valid_from = v.price_valid_from
        and t.tier_from < v.units_before + v.units
        and (t.tier_to is null or t.tier_to > v.units_before)
    where v.model = 'graduated'
),

graduated_amounts as (
    select
        entity_id,
        period,
        price_id,
        price_valid_from,
        tier_from,
        units,
        packages,
        base_amount,
        flat_fee,
        event_count,
        first_unit,
        cast(units * unit_price + flat_fee as {{ money_unrounded_type() }}) as amount
    from graduated_lines
),

volume_lines as (
    select
        v.entity_id,
        v.period,
        v.price_id,
        v.price_valid_from,
        t.tier_from,
        v.units,
        cast(null as bigint) as packages,
        cast(null as {{ money_unrounded_type() }}) as base_amount,
        case when v.units_before = 0 then t.flat_fee else 0 end as flat_fee,
        v.event_count,
        cast(null as bigint) as first_unit,
        v.amount
    from version_totals as v
    inner join period_totals as p
        on p.entity_id = v.entity_id
        and p.period = v.period
        and p.price_id = v.price_id
    inner join tiers as t
        on t.price_id = v.price_id
        and t.valid_from = v.price_valid_from
        and t.tier_from < p.period_units
        and (t.tier_to is null or p.period_units <= t.tier_to)
    where v.model = 'volume'
),

single_rate_lines as (
    select
        v.entity_id,
        v.period,
        v.price_id,
        v.price_valid_from,
        t.tier_from,
        v.units,
        case
            when v.model = 'package' then cast(
                (v.units_before + v.units + t.package_size - 1) // t.package_size
                - (v.units_before + t.package_size - 1) // t.package_size
                as bigint)
        end as packages,
        case when v.model = 'percentage' then v.base_amount end as base_amount,
        cast(0 as {{ money_unrounded_type() }}) as flat_fee,
        v.event_count,
        cast(null as bigint) as first_unit,
        v.amount
    from version_totals as v
    inner join tiers as t
        on t.price_id = v.price_id
        and t.valid_from = v.price_valid_from
        and t.is_version_rate
),

line_totals as (
    select * from graduated_amounts
    union all
    select * from volume_lines
    union all
    select * from single_rate_lines
),

lines as (
    select
        l.entity_id,
        l.period,
        l.price_id,
        l.price_valid_from,
        t.event_type,
        t.model,
        t.currency,
        l.tier_from,
        t.tier_to,
        l.units,
        t.unit_price,
        t.package_size,
        l.packages,
        t.percent,
        t.min_fee,
        t.max_fee,
        l.base_amount,
        cast(l.flat_fee as {{ money_unrounded_type() }}) as flat_fee,
        cast(l.amount as {{ money_unrounded_type() }}) as amount,
        l.event_count,
        l.first_unit
    from line_totals as l
    inner join tiers as t
        on t.price_id = l.price_id
        and t.valid_from = l.price_valid_from
        and t.tier_from = l.tier_from
),

labelled as (
    select
        *,
        case
            when model not in ('graduated', 'volume') then null
            when tier_from = 0 and tier_to is null then null
            when tier_to is null then 'units ' || cast(tier_from + 1 as varchar) || '+'
            else 'units ' || cast(tier_from + 1 as varchar) || '-' || cast(tier_to as varchar)
        end as tier_label,
        case model
            when 'package' then
                {{ decimal_text('unit_price') }} || ' per package of ' || cast(package_size as varchar)
            when 'percentage' then
                {{ decimal_text('percent * 100') }} || '% of ' || {{ decimal_text('base_amount') }}
                || case when min_fee is not null then ', min ' || {{ decimal_text('min_fee') }} else '' end
                || case when max_fee is not null then ', max ' || {{ decimal_text('max_fee') }} else '' end
                || ' per event'
            else
                {{ decimal_text('unit_price') }} || ' per unit'
                || case when flat_fee <> 0 then ' + ' || {{ decimal_text('flat_fee') }} || ' flat fee' else '' end
        end as price_basis
    from lines
)

select
    entity_id,
    period,
    price_id,
    price_valid_from,
    event_type,
    model,
    currency,
    tier_from,
    tier_to,
    units,
    unit_price,
    package_size,
    packages,
    percent,
    min_fee,
    max_fee,
    base_amount,
    flat_fee,
    amount,
    event_count,
    first_unit,
    tier_label,
    price_basis,
    event_type
    || coalesce(', ' || tier_label, '')
    || ', ' || price_basis as description_basis
from labelled
