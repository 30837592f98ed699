-- Every billable event gets exactly one amount (a tier book that leaves a count uncovered would
-- drop an event from int_rated_events). Returns the events that break this.
select b.event_id
from {{ ref('int_billable_events') }} as b
left join {{ ref('int_rated_events') }} as r
    on r.event_id = b.event_id
where r.event_id is null or r.amount is null
