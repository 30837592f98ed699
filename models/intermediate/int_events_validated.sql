-- Every active event row, told billable or not.
-- Grain: one row per stg_marketplace_events row.
-- Per event_id the copy first loaded (first_load_id, source_file, row_number) stands; a later
-- copy with the same parsed content is a replay (is_replay, not billed, not rejected), one with
-- different content is a conflicting_duplicate. The standing copy is checked in the contract's
-- order: invalid_timestamp, invalid_quantity, invalid_amount, unknown_entity, unknown_user,
-- user_not_in_entity, no_price. Period and price lookup use the entity's local time.
-- Narrow on purpose (tens of millions of rows are written here, and each string column costs
-- about as much to write as all the numbers together): rejected_events reads the file name,
-- event type and load time of the few rejected rows from staging and their raw text from
-- raw.marketplace_events; currency and event type of billed events come with their price
-- (int_price_tiers). Events arrive parsed (base_marketplace_events parses each row once).
-- Integer keys for the heavy steps downstream (sorting, joining and grouping integers is several
-- times faster than strings): event_key (the staged row: source_file_id and row_number),
-- entity_key (int_entity_keys) and price_key (dense number of price_id within this build).
with events as (
    select * from {{ ref('stg_marketplace_events') }}
),

entities as (
    select entity_id, entity_key, currency, timezone
    from {{ ref('int_entity_keys') }}
),

users as (
    select user_id from {{ ref('stg_users') }}
),

entity_users as (
    select entity_id, user_id from {{ ref('stg_entity_users') }}
),

price_versions as (
    -- the rows of a price_id with the same valid_from form one version
    select
        price_id,
        valid_from,
        min(event_type) as event_type,
        min(currency) as currency,
        min(model) as model,
        case when count(valid_to) = count(*) then max(valid_to) end as valid_to
    from {{ ref('stg_event_prices') }}
    group by price_id, valid_from
),

price_versions_ordered as (
    select
        *,
        lead(valid_from) over (
            partition by event_type, currency order by valid_from, price_id
        ) as next_valid_from
    from price_versions
),

effective_price_versions as (
    -- overlapping versions of one (event_type, currency): the one starting later wins from
    -- its start (on the same start, the greater price_id), so an event matches at most one
    select
        price_id,
        valid_from,
        event_type,
        currency,
        model,
        case
            when next_valid_from is not null and (valid_to is null or next_valid_from < valid_to)
                then next_valid_from
            else valid_to
        end as effective_to,
        cast(dense_rank() over (order by price_id) as integer) as price_key
    from price_versions_ordered
),

repeated_event_ids as (
    -- only event_ids given more than once need ordering and comparing
    select event_id
    from {{ ref('stg_marketplace_events') }}
    where not {{ is_blank('event_id') }}
    group by event_id
    having count(*) > 1
),

repeated_copies as (
    -- the parsed content two copies are compared on; a value that does not parse is compared as
    -- its raw text (staging keeps that text, *_unparsed)
    select
        source_file_id,
        row_number,
        event_id,
        first_load_id,
        source_file,
        entity_id,
        user_id,
        event_type,
        coalesce(cast(occurred_at as varchar), '~' || occurred_at_unparsed) as occurred_key,
        coalesce(cast(quantity as varchar), '~' || quantity_unparsed) as quantity_key,
        coalesce(cast(amount as varchar), '~' || amount_unparsed) as amount_key
    from {{ ref('stg_marketplace_events') }}
    where event_id in (select event_id from repeated_event_ids)
),

repeated_copies_ordered as (
    select
        *,
        row_number() over first_loaded as copy_number,
        first_value(entity_id) over first_loaded as first_entity_id,
        first_value(user_id) over first_loaded as first_user_id,
        first_value(event_type) over first_loaded as first_event_type,
        first_value(occurred_key) over first_loaded as first_occurred_key,
        first_value(quantity_key) over first_loaded as first_quantity_key,
        first_value(amount_key) over first_loaded as first_amount_key
    from repeated_copies
    window first_loaded as (
        partition by event_id
        order by first_load_id, source_file, row_number
        rows between unbounded preceding and current row
    )
),

later_copies as (
    select
        source_file_id,
        row_number,
        copy_number,
        entity_id is not distinct from first_entity_id
        and user_id is not distinct from first_user_id
        and event_type is not distinct from first_event_type
        and occurred_key is not distinct from first_occurred_key
        and quantity_key is not distinct from first_quantity_key
        and amount_key is not distinct from first_amount_key as is_replay
    from repeated_copies_ordered
    where copy_number > 1
),

located as (
    select
        ev.*,
        coalesce(lc.copy_number, 1) as copy_number,
        lc.copy_number is not null as is_later_copy,
        coalesce(lc.is_replay, false) as is_replay,
        e.entity_id as known_entity_id,
        e.entity_key,
        e.currency,
        e.timezone,
        u.user_id as known_user_id,
        eu.user_id as member_user_id,
        {{ to_local('ev.occurred_at', 'e.timezone') }} as local_ts
    from events as ev
    left join later_copies as lc
        on lc.source_file_id = ev.source_file_id
        and lc.row_number = ev.row_number
    left join entities as e
        on e.entity_id = ev.entity_id
    left join users as u
        on u.user_id = ev.user_id
    left join entity_users as eu
        on eu.entity_id = ev.entity_id
        and eu.user_id = ev.user_id
),

priced as (
    select
        l.*,
        cast(l.local_ts as date) as local_date,
        {{ local_period('l.local_ts') }} as period,
        p.price_id,
        p.price_key,
        p.valid_from as price_valid_from,
        p.model
    from located as l
    left join effective_price_versions as p
        on p.event_type = l.event_type
        and p.currency = l.currency
        and p.valid_from <= cast(l.local_ts as date)
        and (p.effective_to is null or cast(l.local_ts as date) < p.effective_to)
)

select
    event_key,
    event_id,
    entity_id,
    user_id,
    occurred_at,
    quantity,
    amount,
    source_file_id,
    is_replay,
    case
        when {{ is_blank('event_id') }} then 'missing_event_id'
        when is_replay then null
        when is_later_copy then 'conflicting_duplicate'
        when occurred_at is null then 'invalid_timestamp'
        -- at most 10^12 units per event: the running count of a price (int_event_unit_counts)
        -- stays an exact 64-bit integer for millions of events at that size
        when quantity is null or quantity > 1000000000000 then 'invalid_quantity'
        when amount_unparsed is not null then 'invalid_amount'
        when amount is null and model = 'percentage' then 'invalid_amount'
        -- amount x percent (percent <= 1) must fit the 14 integer digits a decimal(38,24)
        -- product holds: 100 trillion units of the currency
        when model = 'percentage' and abs(amount) >= 100000000000000 then 'invalid_amount'
        when known_entity_id is null then 'unknown_entity'
        when known_user_id is null then 'unknown_user'
        when member_user_id is null then 'user_not_in_entity'
        when price_id is null then 'no_price'
    end as reject_reason,
    local_date,
    period,
    price_id,
    price_valid_from,
    model,
    entity_key,
    price_key
from priced
