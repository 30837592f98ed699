-- Candidate webhooks to the permission system, each with a stable dedup_key: the outbox
-- (billing.webhooks.outbox.queue_from_triggers) queues those with occurred_at <= as_of that it
-- has not queued before, so a rerun sends nothing twice. invoice.finalized is queued by the
-- close itself, not here.
--   billing.payment_failed  one per failed payment of an issued invoice (joined by invoice_number)
--   billing.credits_low     one per crossing of the entity's balance under its threshold (keyed
--                           by when the balance last rose to the threshold: armed_at)
--   billing.overage         the first overage event per (entity, user, period)
--   billing.suspension      one per (issued invoice, reason): unpaid_30_days when as_of() is 30
--                           days past issue and succeeded payments (by as_of) < total;
--                           three_failed_payments at the third failed attempt, unless the
--                           invoice was paid in full by then
-- facts: JSON object with the entity / organization / user names and the facts of the event;
-- money as decimal strings, instants as ISO-8601 UTC.
-- A view, so it sees invoices issued by a close without a dbt run.
-- Grain: one row per dedup_key.
{{ config(materialized='view') }}

with entities as (
    select
        e.entity_id,
        e.entity_name,
        e.organization_id,
        o.organization_name,
        e.currency,
        c.minor_unit
    from {{ ref('stg_entities') }} as e
    left join {{ ref('stg_organizations') }} as o
        on o.organization_id = e.organization_id
    inner join {{ ref('currencies') }} as c
        on c.currency = e.currency
),

users as (
    select
        user_id,
        user_name,
        email as user_email
    from {{ ref('stg_users') }}
),

issued_invoices as (
    select
        invoice_id,
        invoice_number,
        entity_id,
        period,
        currency,
        total,
        issued_at,
        due_at
    from {{ source('billing', 'issued_invoices') }}
),

payments_of_issued as (
    select
        p.payment_id,
        p.amount,
        p.status,
        p.attempted_at,
        i.invoice_id,
        i.invoice_number,
        i.entity_id,
        i.period,
        i.currency,
        row_number() over (
            partition by i.invoice_id order by p.attempted_at, p.payment_id
        ) as attempt,
        row_number() over (
            partition by i.invoice_id, p.status order by p.attempted_at, p.payment_id
        ) as attempt_of_status
    from {{ ref('stg_payments') }} as p
    inner join issued_invoices as i
        on i.invoice_number = p.invoice_number
    where p.attempted_at is not null
),

payment_failed as (
    select
        'billing.payment_failed|' || payment_id as dedup_key,
        'billing.payment_failed' as event_type,
        entity_id,
        cast(null as varchar) as user_id,
        attempted_at as occurred_at,
        json_object(
            'payment_id', payment_id,
            'invoice_id', invoice_id,
            'invoice_number', invoice_number,
            'period', period,
            'amount', cast(amount as varchar),
            'currency', currency,
            'attempted_at', {{ iso_utc('attempted_at') }},
            'attempt', attempt
        ) as event_facts
    from payments_of_issued
    where status = 'failed'
),

credits_low as (
    select
        -- one per arming of the threshold (int_credits_low_crossings.armed_at), not per event:
        -- a late event that now makes the same crossing earlier is not a second crossing
        'billing.credits_low|' || x.entity_id || '|armed ' || {{ iso_utc('x.armed_at') }}
            as dedup_key,
        'billing.credits_low' as event_type,
        x.entity_id,
        x.user_id,
        x.occurred_at,
        json_object(
            'balance', cast(x.balance_after as varchar),
            'threshold', cast(x.threshold as varchar),
            'currency', e.currency,
            'period', x.period,
            'event_id', x.event_id
        ) as event_facts
    from {{ ref('int_credits_low_crossings') }} as x
    inner join entities as e
        on e.entity_id = x.entity_id
),

first_overages as (
    select
        c.entity_id,
        c.user_id,
        c.period,
        c.event_id,
        c.occurred_at,
        c.credits_drawn,
        c.amount - c.credits_drawn as billed_amount,
        c.user_room_before,
        c.credit_limit
    from {{ ref('int_credit_drawdown') }} as c
    where c.is_overage
    qualify row_number() over (
        partition by c.entity_id, c.user_id, c.period order by c.occurred_at, c.event_id
    ) = 1
),

overage as (
    select
        'billing.overage|' || o.entity_id || '|' || o.user_id || '|' || o.period as dedup_key,
        'billing.overage' as event_type,
        o.entity_id,
        o.user_id,
        o.occurred_at,
        json_object(
            'period', o.period,
            'currency', e.currency,
            'credit_limit', cast(o.credit_limit as varchar),
            -- what the user drew from credits in the period, this event included (= the limit)
            'drawn', cast(cast(o.credit_limit - o.user_room_before + o.credits_drawn as {{ money_unrounded_type() }}) as varchar),
            -- the event's amount past the limit, billed as pay-as-you-go
            'overage_amount', cast(o.billed_amount as varchar),
            'event_id', o.event_id
        ) as event_facts
    from first_overages as o
    inner join entities as e
        on e.entity_id = o.entity_id
),

invoice_payment_facts as (
    select
        i.invoice_id,
        coalesce(sum(p.amount) filter (
            where p.status = 'succeeded' and p.attempted_at <= {{ as_of() }}
        ), 0) as paid,
        count(*) filter (where p.status = 'failed') as failed_payments,
        max(p.attempted_at) filter (
            where p.status = 'failed' and p.attempt_of_status = 3
        ) as third_failure_at
    from issued_invoices as i
    left join payments_of_issued as p
        on p.invoice_id = i.invoice_id
    group by i.invoice_id
),

paid_by_third_failure as (
    -- an invoice already paid in full when its third failure came (a retried charge after a
    -- successful one) is not suspended for it
    select
        f.invoice_id,
        coalesce(sum(p.amount) filter (where p.status = 'succeeded'), 0) as paid
    from invoice_payment_facts as f
    left join payments_of_issued as p
        on p.invoice_id = f.invoice_id
        and (p.attempted_at < f.third_failure_at
             or (p.attempted_at = f.third_failure_at and p.status = 'succeeded'))
    where f.third_failure_at is not null
    group by f.invoice_id
),

suspension_reasons as (
    select
        i.*,
        f.paid,
        f.failed_payments,
        'unpaid_30_days' as reason,
        i.issued_at + interval 30 day as occurred_at,
        i.issued_at + interval 30 day as unpaid_since
    from issued_invoices as i
    inner join invoice_payment_facts as f
        on f.invoice_id = i.invoice_id
    where {{ as_of() }} >= i.issued_at + interval 30 day
        and f.paid < i.total

    union all

    select
        i.*,
        f.paid,
        f.failed_payments,
        'three_failed_payments' as reason,
        f.third_failure_at as occurred_at,
        cast(null as timestamptz) as unpaid_since
    from issued_invoices as i
    inner join invoice_payment_facts as f
        on f.invoice_id = i.invoice_id
    inner join paid_by_third_failure as b
        on b.invoice_id = i.invoice_id
    where b.paid < i.total
),

suspension as (
    select
        'billing.suspension|' || invoice_id || '|' || reason as dedup_key,
        'billing.suspension' as event_type,
        entity_id,
        cast(null as varchar) as user_id,
        occurred_at,
        json_object(
            'reason', reason,
            'invoice_id', invoice_id,
            'invoice_number', invoice_number,
            'period', period,
            'currency', currency,
            'total', cast(total as varchar),
            'paid', cast(cast(paid as {{ money_unrounded_type() }}) as varchar),
            'outstanding', cast(cast(total - paid as {{ money_unrounded_type() }}) as varchar),
            'issued_at', {{ iso_utc('issued_at') }},
            'due_at', {{ iso_utc('due_at') }},
            'failed_payments', failed_payments,
            'unpaid_since', case when unpaid_since is not null then {{ iso_utc('unpaid_since') }} end
        ) as event_facts
    from suspension_reasons
),

all_triggers as (
    select * from payment_failed
    union all
    select * from credits_low
    union all
    select * from overage
    union all
    select * from suspension
)

select
    t.dedup_key,
    t.event_type,
    t.entity_id,
    e.organization_id,
    t.user_id,
    t.occurred_at,
    cast(
        json_merge_patch(
            json_object(
                'occurred_at', {{ iso_utc('t.occurred_at') }},
                'entity_id', t.entity_id,
                'entity_name', e.entity_name,
                'organization_id', e.organization_id,
                'organization_name', e.organization_name,
                'user_id', t.user_id,
                'user_name', u.user_name,
                'user_email', u.user_email
            ),
            t.event_facts
        ) as json
    ) as facts
from all_triggers as t
inner join entities as e
    on e.entity_id = t.entity_id
left join users as u
    on u.user_id = t.user_id
