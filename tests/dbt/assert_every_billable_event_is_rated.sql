-- Every billable event gets exactly one amount (a tier book that leaves a count uncovered, or a
-- model the rating does not know, would leave an event without one or drop it). Returns the
-- events without an amount, or one row when the counts differ. No join: two scans.
with billable as (
    select count(*) as n
    from {{ ref('int_billable_events') }}
),

rated as (
    select count(*) as n
    from {{ ref('int_rated_events') }}
)

select r.event_id, null as billable_events, null as rated_events
from {{ ref('int_rated_events') }} as r
where r.amount is null

union all

select null, billable.n, rated.n
from billable
cross join rated
where billable.n <> rated.n
