-- Usage to invoice: one line per price tier reached in the period.
-- Grain: one row per (entity_id, period, price_id, price_valid_from, tier_from).
-- amount is unrounded and is exactly the sum of the line's event tier charges; the invoice-lines
-- model rounds it once. description_basis (event type, tier range, price) is the raw material
-- of the customer-readable line description.
with charges as (
    select * from {{ ref('int_event_tier_charges') }}
),

tiers as (
    select * from {{ ref('stg_event_prices') }}
),

line_totals as (
    select
        entity_id,
        period,
        price_id,
        price_valid_from,
        tier_from,
        min(model) as model,
        cast(sum(units) as bigint) as units,
        cast(sum(packages) as bigint) as packages,
        cast(sum(base_amount) as {{ money_unrounded_type() }}) as base_amount,
        cast(sum(flat_fee) as {{ money_unrounded_type() }}) as flat_fee,
        cast(sum(amount) as {{ money_unrounded_type() }}) as amount,
        count(*) as event_count
    from charges
    group by entity_id, period, price_id, price_valid_from, tier_from
),

lines as (
    select
        l.entity_id,
        l.period,
        l.price_id,
        l.price_valid_from,
        t.event_type,
        l.model,
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
        l.flat_fee,
        l.amount,
        l.event_count
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
    tier_label,
    price_basis,
    event_type
    || coalesce(', ' || tier_label, '')
    || ', ' || price_basis as description_basis
from labelled
