{#
  Seat charges, billed in arrears: one row per (entity_id, period, stretch), a stretch being a
  maximal run of time in the period with the same plan and seat count (0 seats bill nothing).

  Timeline: from each effective_at the entity has `seats` of `plan_id` until the next change;
  changes at the same instant: the highest change_id wins.

  daily plans: a local day is billed at the state in force at the end of that day (a change
  effective exactly at the next local midnight belongs to the next day);
  amount = seat_price x seats x billed_days / days_in_month.
  second plans: amount = seat_price x seats x billed_seconds / period_seconds. A day claimed by
  a daily plan (its end-of-day state is a daily plan with seats) is not also billed by seconds.
  Each amount is rounded once, half away from zero, with div_round_money.
#}
with periods as (
    select entity_id, period, period_start, period_end, period_start_local, days_in_month,
        period_seconds, timezone
    from {{ ref('int_billing_periods') }}
),

entities as (
    select e.entity_id, e.currency, c.minor_unit
    from {{ ref('stg_entities') }} as e
    inner join {{ ref('currencies') }} as c on c.currency = e.currency
),

plans as (
    select plan_id, plan_name, seat_price, proration
    from {{ ref('stg_plans') }}
),

-- at one instant only the highest change_id counts
changes as (
    select entity_id, plan_id, seats, effective_at
    from {{ ref('stg_subscription_changes') }}
    qualify row_number() over (partition by entity_id, effective_at order by change_id desc) = 1
),

changes_with_end as (
    select
        c.*,
        lead(c.effective_at) over (partition by c.entity_id order by c.effective_at) as next_at,
        row_number() over (partition by c.entity_id order by c.effective_at) as change_seq,
        row_number() over (
            partition by c.entity_id, c.plan_id, c.seats order by c.effective_at
        ) as state_seq
    from changes as c
),

-- consecutive changes to the same plan and seat count are one segment
segments as (
    select
        entity_id,
        plan_id,
        seats,
        min(effective_at) as seg_start,
        case when bool_or(next_at is null) then null else max(next_at) end as seg_end
    from changes_with_end
    group by entity_id, plan_id, seats, change_seq - state_seq
),

days as (
    select
        p.entity_id,
        p.period,
        p.timezone,
        p.days_in_month,
        cast(unnest(generate_series(
            p.period_start_local, p.period_start_local + interval 1 month - interval 1 day,
            interval 1 day
        )) as date) as local_day
    from periods as p
),

day_bounds as (
    select
        *,
        {{ from_local('local_day', 'timezone') }} as day_start,
        {{ from_local('local_day + interval 1 day', 'timezone') }} as day_end
    from days
),

-- the state in force at the end of each local day: the last change before its next midnight
day_states as (
    select
        d.entity_id,
        d.period,
        d.days_in_month,
        d.local_day,
        d.day_start,
        d.day_end,
        c.plan_id,
        c.seats,
        pl.proration
    from day_bounds as d
    asof left join changes as c
        on c.entity_id = d.entity_id and d.day_end > c.effective_at
    left join plans as pl on pl.plan_id = c.plan_id
),

day_runs as (
    select
        *,
        row_number() over (partition by entity_id, period order by local_day)
        - row_number() over (
            partition by entity_id, period, plan_id, seats order by local_day
        ) as run_id
    from day_states
),

daily_stretches as (
    select
        entity_id,
        period,
        plan_id,
        seats,
        min(day_start) as service_start,
        max(day_end) as service_end,
        cast(count(*) as integer) as billed_days,
        cast(null as bigint) as billed_seconds,
        any_value(days_in_month) as days_in_month
    from day_runs
    where proration = 'daily' and seats > 0
    group by entity_id, period, plan_id, seats, run_id
),

claimed_days as (
    select entity_id, day_start, day_end
    from day_states
    where proration = 'daily' and seats > 0
),

-- a second-prorated segment that ends inside a day claimed by a daily plan ends at that
-- day's start (only the segment's last day can be claimed)
second_segments as (
    select
        s.entity_id,
        s.plan_id,
        s.seats,
        s.seg_start,
        coalesce(cd.day_start, s.seg_end) as seg_end
    from segments as s
    inner join plans as pl on pl.plan_id = s.plan_id
    left join claimed_days as cd
        on cd.entity_id = s.entity_id
        and s.seg_end > cd.day_start
        and s.seg_end < cd.day_end
    where pl.proration = 'second' and s.seats > 0
),

second_stretches as (
    select
        s.entity_id,
        p.period,
        s.plan_id,
        s.seats,
        greatest(s.seg_start, p.period_start) as service_start,
        least(coalesce(s.seg_end, p.period_end), p.period_end) as service_end,
        cast(null as integer) as billed_days,
        p.days_in_month
    from second_segments as s
    inner join periods as p
        on p.entity_id = s.entity_id
        and s.seg_start < p.period_end
        and (s.seg_end is null or s.seg_end > p.period_start)
),

stretches as (
    select * from daily_stretches
    union all by name
    select
        *,
        (epoch_us(service_end) - epoch_us(service_start)) // 1000000 as billed_seconds
    from second_stretches
    where service_end > service_start
)

select
    s.entity_id,
    s.period,
    e.currency,
    s.plan_id,
    pl.plan_name,
    s.seats,
    pl.proration,
    pl.seat_price,
    s.service_start,
    s.service_end,
    s.billed_days,
    s.billed_seconds,
    s.days_in_month,
    p.period_seconds,
    case pl.proration
        when 'daily' then {{ div_round_money(
            'pl.seat_price * s.seats * s.billed_days', 's.days_in_month', 'e.minor_unit') }}
        else {{ div_round_money(
            'pl.seat_price * s.seats * s.billed_seconds', 'p.period_seconds', 'e.minor_unit') }}
    end as amount
from stretches as s
inner join plans as pl on pl.plan_id = s.plan_id
inner join periods as p on p.entity_id = s.entity_id and p.period = s.period
inner join entities as e on e.entity_id = s.entity_id
