-- Every invoice line of every (entity, period) as if it were drafted now, from everything known
-- now. Open periods show these as their draft lines; for closed periods they are compared with
-- what was issued (int_invoice_adjustments).
-- Grain: one row per (entity_id, period, line_key). Each amount is rounded once, half away from
-- zero, to the currency's minor unit.
with entities as (
    select
        e.entity_id,
        e.timezone,
        e.currency,
        c.minor_unit,
        c.symbol
    from {{ ref('stg_entities') }} as e
    inner join {{ ref('currencies') }} as c
        on c.currency = e.currency
),

periods as (
    -- the service period of usage and credits-applied lines: the billing month, local midnight
    -- of the 1st to local midnight of the next 1st
    select entity_id, period, period_start, period_end
    from {{ ref('int_billing_periods') }}
),

usage_facts as (
    select
        u.entity_id,
        u.period,
        u.price_id,
        u.price_valid_from,
        u.tier_from,
        u.tier_to,
        u.event_type,
        u.model,
        u.units,
        u.unit_price,
        u.package_size,
        coalesce(u.flat_fee, 0) as flat_fee,
        u.amount as amount_unrounded,
        u.event_count,
        u.first_unit,
        e.currency,
        e.minor_unit,
        e.symbol,
        {{ humanize_label('u.event_type') }} as label,
        u.packages,
        u.base_amount,
        u.percent,
        u.min_fee,
        u.max_fee,
        p.period_start,
        p.period_end
    from {{ ref('int_usage_lines') }} as u
    inner join entities as e
        on e.entity_id = u.entity_id
    left join periods as p
        on p.entity_id = u.entity_id
        and p.period = u.period
),

usage_lines as (
    select
        entity_id,
        period,
        'usage' as line_type,
        'usage|' || price_id || '|' || cast(price_valid_from as varchar) || '|'
            || cast(tier_from as varchar) as line_key,
        label || ' — ' || case model
            when 'per_unit' then
                {{ format_decimal('units', 0) }} || ' × ' || {{ format_money('unit_price', 'minor_unit', 'symbol') }}
            when 'graduated' then
                case when units = 1
                    then 'unit ' || {{ format_decimal('first_unit', 0) }}
                    else 'units ' || {{ format_decimal('first_unit', 0) }} || '–' || {{ format_decimal('first_unit + units - 1', 0) }}
                end
                || ' at ' || {{ format_money('unit_price', 'minor_unit', 'symbol') }}
            when 'volume' then
                {{ format_decimal('units', 0) }} || ' × ' || {{ format_money('unit_price', 'minor_unit', 'symbol') }}
                || ' (volume tier ' || {{ format_decimal('tier_from + 1', 0) }}
                || coalesce('–' || {{ format_decimal('tier_to', 0) }}, '+') || ')'
            when 'package' then
                {{ format_decimal('packages', 0) }} || case when packages = 1 then ' package of ' else ' packages of ' end
                || {{ format_decimal('package_size', 0) }} || ' at ' || {{ format_money('unit_price', 'minor_unit', 'symbol') }}
                || ' (' || {{ format_decimal('units', 0) }} || case when units = 1 then ' unit)' else ' units)' end
            when 'percentage' then
                -- the base as money a reader checks against (rounded for display only: the line
                -- amount is the sum of the exact event fees)
                {{ format_percent('percent') }} || ' of ' || {{ format_money(round_money('coalesce(base_amount, 0)', 'minor_unit'), 'minor_unit', 'symbol') }}
                || ' (' || {{ format_decimal('event_count', 0) }} || case when event_count = 1 then ' event' else ' events' end
                || case
                    when min_fee is not null and max_fee is not null
                    then ', min ' || {{ format_money('min_fee', 'minor_unit', 'symbol') }}
                        || ' and max ' || {{ format_money('max_fee', 'minor_unit', 'symbol') }} || ' each'
                    when min_fee is not null
                    then ', min ' || {{ format_money('min_fee', 'minor_unit', 'symbol') }} || ' each'
                    when max_fee is not null
                    then ', max ' || {{ format_money('max_fee', 'minor_unit', 'symbol') }} || ' each'
                    else ''
                end || ')'
            else {{ format_decimal('units', 0) }} || ' units'
        end
        || case
            when flat_fee <> 0 and model in ('graduated', 'volume')
            then ' + ' || {{ format_money('flat_fee', 'minor_unit', 'symbol') }} || ' flat fee'
            else ''
        end as description,
        price_id,
        cast(null as varchar) as plan_id,
        cast(case
            when model = 'package' then packages
            when model = 'percentage' then event_count
            else units
        end as {{ money_type() }}) as quantity,
        cast(case when model <> 'percentage' then unit_price end as {{ money_unrounded_type() }}) as unit_price,
        amount_unrounded,
        {{ round_money('amount_unrounded', 'minor_unit') }} as amount,
        period_start as service_start,
        period_end as service_end,
        '1|' || event_type || '|' || price_id || '|' || cast(price_valid_from as varchar) || '|'
            || lpad(cast(tier_from as varchar), 20, '0') as sort_key,
        currency
    from usage_facts
),

seat_facts as (
    select
        s.*,
        e.currency,
        e.minor_unit,
        e.symbol,
        {{ to_local('s.service_start', 'e.timezone') }} as local_start,
        {{ to_local('s.service_end', 'e.timezone') }} as local_end,
        cast(strptime(s.period || '-01', '%Y-%m-%d') as date) as month_start,
        cast(
            date_diff(
                'second',
                {{ from_local("strptime(s.period || '-01', '%Y-%m-%d')", 'e.timezone') }},
                {{ from_local("strptime(s.period || '-01', '%Y-%m-%d') + interval 1 month", 'e.timezone') }}
            ) as bigint
        ) as period_seconds
    from {{ ref('int_seat_stretches') }} as s
    inner join entities as e
        on e.entity_id = s.entity_id
),

seat_lines as (
    select
        entity_id,
        period,
        'seat' as line_type,
        'seat|' || plan_id || '|' || cast(seats as varchar) || '|'
            || strftime(timezone('UTC', service_start), '%Y-%m-%dT%H:%M:%SZ') as line_key,
        plan_name || ' — ' || cast(seats as varchar) || case when seats = 1 then ' seat, ' else ' seats, ' end
        || case
            when proration = 'daily' then
                case
                    when coalesce(billed_days, 0) <= 1
                    then strftime(local_start, '%b %-d')
                    else strftime(local_start, '%b %-d') || '–'
                        || cast(day(cast(local_start as date) + cast(billed_days - 1 as integer)) as varchar)
                end
                || ' (' || cast(coalesce(billed_days, 0) as varchar) || ' of '
                || cast(day(last_day(month_start)) as varchar) || ' days)'
            when cast(local_start as time) = time '00:00:00' and cast(local_end as time) = time '00:00:00' then
                -- whole local days: a date range, the end day inclusive
                case
                    when cast(local_end as date) - cast(local_start as date) <= 1
                    then strftime(local_start, '%b %-d')
                    else strftime(local_start, '%b %-d') || '–'
                        || cast(day(cast(local_end as date) - 1) as varchar)
                end
                || ' (' || {{ format_decimal('billed_seconds', 0) }} || ' of '
                || {{ format_decimal('period_seconds', 0) }} || ' seconds)'
            else
                strftime(local_start, '%b %-d %H:%M') || ' – ' || strftime(local_end, '%b %-d %H:%M')
                || ' (' || {{ format_decimal('billed_seconds', 0) }} || ' of '
                || {{ format_decimal('period_seconds', 0) }} || ' seconds)'
        end as description,
        cast(null as varchar) as price_id,
        plan_id,
        cast(seats as {{ money_type() }}) as quantity,
        cast(seat_price as {{ money_unrounded_type() }}) as unit_price,
        cast(amount as {{ money_unrounded_type() }}) as amount_unrounded,
        {{ round_money('amount', 'minor_unit') }} as amount,
        service_start,
        service_end,
        '2|' || strftime(timezone('UTC', service_start), '%Y-%m-%dT%H:%M:%S') || '|' || plan_id as sort_key,
        currency
    from seat_facts
    where seats > 0
),

purchases as (
    select
        p.purchase_id,
        p.entity_id,
        p.credits,
        p.price,
        p.purchased_at,
        p.expires_at,
        {{ period_of('p.purchased_at', 'e.timezone') }} as period,
        {{ to_local('p.expires_at', 'e.timezone') }} as local_expires_at,
        e.currency,
        e.minor_unit,
        e.symbol
    from {{ ref('stg_credit_purchases') }} as p
    inner join entities as e
        on e.entity_id = p.entity_id
),

credit_purchase_lines as (
    select
        entity_id,
        period,
        'credit_purchase' as line_type,
        'credit_purchase|' || purchase_id as line_key,
        'Prepaid credits — ' || {{ format_money('credits', 'minor_unit', 'symbol') }}
            || ' of credit, valid until ' || strftime(local_expires_at, '%b %-d, %Y') as description,
        cast(null as varchar) as price_id,
        cast(null as varchar) as plan_id,
        cast(1 as {{ money_type() }}) as quantity,
        cast(price as {{ money_unrounded_type() }}) as unit_price,
        cast(price as {{ money_unrounded_type() }}) as amount_unrounded,
        {{ round_money('price', 'minor_unit') }} as amount,
        purchased_at as service_start,
        expires_at as service_end,
        '3|' || strftime(timezone('UTC', purchased_at), '%Y-%m-%dT%H:%M:%S') || '|' || purchase_id as sort_key,
        currency
    from purchases
),

credits_drawn_by_period as (
    select
        entity_id,
        period,
        sum(credits_drawn) as credits_drawn,
        count(*) filter (where credits_drawn > 0) as events_paid
    from {{ ref('int_credit_drawdown') }}
    group by entity_id, period
),

credits_applied_lines as (
    select
        d.entity_id,
        d.period,
        'credits_applied' as line_type,
        'credits_applied' as line_key,
        'Prepaid credits applied to usage (' || {{ format_decimal('d.events_paid', 0) }}
            || case when d.events_paid = 1 then ' event)' else ' events)' end as description,
        cast(null as varchar) as price_id,
        cast(null as varchar) as plan_id,
        cast(null as {{ money_type() }}) as quantity,
        cast(null as {{ money_unrounded_type() }}) as unit_price,
        cast(-d.credits_drawn as {{ money_unrounded_type() }}) as amount_unrounded,
        {{ round_money('-d.credits_drawn', 'e.minor_unit') }} as amount,
        p.period_start as service_start,
        p.period_end as service_end,
        '4|credits_applied' as sort_key,
        e.currency
    from credits_drawn_by_period as d
    inner join entities as e
        on e.entity_id = d.entity_id
    left join periods as p
        on p.entity_id = d.entity_id
        and p.period = d.period
    where {{ round_money('d.credits_drawn', 'e.minor_unit') }} <> 0
),

all_lines as (
    select * from usage_lines
    union all
    select * from seat_lines
    union all
    select * from credit_purchase_lines
    union all
    select * from credits_applied_lines
)

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
    amount_unrounded,
    amount,
    service_start,
    service_end,
    sort_key,
    currency
from all_lines
