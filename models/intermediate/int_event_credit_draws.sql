{#
  One row per (event, lot) draw: what one event took from one lot (amount > 0); draw_seq is its
  place in the event's draws (1 = the lot that expires first). The rows of int_credit_drawdown's
  `draws` lists, one by one.
  Grain: one row per (event_id, purchase_id).
  A view: the drawdown table already holds every draw; this only unnests it.
#}
{{ config(materialized='view') }}
with drawdown as (
    select
        entity_id,
        user_id,
        event_id,
        occurred_at,
        period,
        {{ unnest_list_with_position('draws', 'draw', 'draw_seq') }}
    from {{ ref('int_credit_drawdown') }}
)

select
    entity_id,
    user_id,
    event_id,
    cast(draw.purchase_id as varchar) as purchase_id,
    occurred_at,
    period,
    cast(draw.amount as {{ money_unrounded_type() }}) as amount,
    cast(draw_seq as integer) as draw_seq
from drawdown
