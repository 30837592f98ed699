{# One row per credit purchase (a lot of credits in the entity's currency). #}
with purchases as (
    select purchase_id, entity_id, credits, price, purchased_at, expires_at
    from {{ ref('stg_credit_purchases') }}
),

entities as (
    select entity_id, entity_key, currency, timezone
    from {{ ref('int_entity_keys') }}
)

select
    p.purchase_id,
    p.entity_id,
    e.entity_key,
    e.currency,
    cast(p.credits as {{ money_unrounded_type() }}) as credits,
    cast(p.price as {{ money_unrounded_type() }}) as price,
    p.purchased_at,
    p.expires_at,
    {{ period_of('p.purchased_at', 'e.timezone') }} as purchase_period,
    {{ period_of('p.expires_at', 'e.timezone') }} as expiry_period
from purchases as p
inner join entities as e on e.entity_id = p.entity_id
