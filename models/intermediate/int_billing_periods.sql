{#
  One row per (entity_id, period) from the entity's first activity (earliest subscription change,
  credit purchase or billable event, in its timezone) through the later of var('through_period')
  and the as_of() month in the entity's timezone. Seat charges are computed for these periods.
#}
with entities as (
    select entity_id, timezone
    from {{ ref('stg_entities') }}
),

activity as (
    select entity_id, min(effective_at) as first_at
    from {{ ref('stg_subscription_changes') }}
    group by entity_id
    union all
    select entity_id, min(purchased_at)
    from {{ ref('stg_credit_purchases') }}
    group by entity_id
    union all
    select entity_id, min(occurred_at)
    from {{ ref('int_rated_events') }}
    group by entity_id
),

first_activity as (
    select entity_id, min(first_at) as first_at
    from activity
    group by entity_id
),

month_bounds as (
    select
        e.entity_id,
        e.timezone,
        cast(date_trunc('month', {{ to_local('f.first_at', 'e.timezone') }}) as date) as first_month,
        greatest(
            cast(date_trunc('month', {{ to_local(as_of(), 'e.timezone') }}) as date),
            {%- if var('through_period', '') %}
            cast('{{ var("through_period") }}-01' as date)
            {%- else %}
            cast(date_trunc('month', {{ to_local(as_of(), 'e.timezone') }}) as date)
            {%- endif %}
        ) as last_month
    from entities as e
    inner join first_activity as f on f.entity_id = e.entity_id
),

months as (
    select
        entity_id,
        timezone,
        cast(unnest(generate_series(first_month, last_month, interval 1 month)) as date) as month_start
    from month_bounds
    where first_month <= last_month
)

select
    entity_id,
    strftime(month_start, '%Y-%m') as period,
    month_start as period_start_local,
    {{ from_local('month_start', 'timezone') }} as period_start,
    {{ from_local('month_start + interval 1 month', 'timezone') }} as period_end,
    cast(datediff('day', month_start, cast(month_start + interval 1 month as date)) as integer)
        as days_in_month,
    (
        epoch_us({{ from_local('month_start + interval 1 month', 'timezone') }})
        - epoch_us({{ from_local('month_start', 'timezone') }})
    ) // 1000000 as period_seconds,
    timezone
from months
