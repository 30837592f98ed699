-- Reconciliation: every staged event row is billed, rejected or counted as a replay, exactly
-- once: rows in stg_marketplace_events = billable events (rated_events) + rejected_events +
-- replays. Returns one row when the counts differ.
with staged as (
    select count(*) as n
    from {{ ref('stg_marketplace_events') }}
),

billable as (
    select count(*) as n
    from {{ ref('rated_events') }}
),

rejected as (
    select count(*) as n
    from {{ ref('rejected_events') }}
),

replays as (
    select count(*) as n
    from {{ ref('int_events_validated') }}
    where is_replay
)

select
    staged.n as staged_rows,
    billable.n as billable_events,
    rejected.n as rejected_rows,
    replays.n as replay_rows
from staged
cross join billable
cross join rejected
cross join replays
where staged.n <> billable.n + rejected.n + replays.n
