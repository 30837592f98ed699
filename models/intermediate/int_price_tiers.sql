{#
  The price book, one row per tier of each price version, with what the version's graduated
  cost function has reached at the tier's start.
  Grain: one row per (price_id, valid_from, tier_from). A version is the rows of a price_id
  with the same valid_from (docs/billing-rules.md, "Price versions").

  cost_before is F(tier_from) for graduated versions: the cost of units 1..tier_from, every
  earlier tier's flat fee included. The graduated cost of q units (tier_from < q <= tier_to) is
  then F(q) = cost_before + flat_fee + (q - tier_from) x unit_price, and an event's amount is
  F(units after it) - F(units before it): its units priced tier by tier, plus the flat fee of
  every tier its units enter (int_rated_events). Other models have cost_before = 0.
  is_version_rate marks the one row that prices a per_unit, package or percentage version (its
  lowest tier_from, should a book give more than one).
#}
with tiers as (
    select
        price_id,
        valid_from,
        tier_from,
        tier_to,
        event_type,
        currency,
        model,
        cast(coalesce(unit_price, 0) as {{ money_unrounded_type() }}) as unit_price,
        cast(coalesce(flat_fee, 0) as {{ money_unrounded_type() }}) as flat_fee,
        package_size,
        percent,
        min_fee,
        max_fee
    from {{ ref('stg_event_prices') }}
),

tier_costs as (
    -- what a whole tier costs: its units at its price plus its flat fee (graduated only)
    select
        *,
        case
            when model = 'graduated' and tier_to is not null
                then cast((tier_to - tier_from) * unit_price + flat_fee as {{ money_unrounded_type() }})
            else cast(0 as {{ money_unrounded_type() }})
        end as whole_tier_cost
    from tiers
)

select
    price_id,
    valid_from,
    tier_from,
    tier_to,
    event_type,
    currency,
    model,
    unit_price,
    flat_fee,
    package_size,
    percent,
    min_fee,
    max_fee,
    model in ('per_unit', 'package', 'percentage')
        and row_number() over (partition by price_id, valid_from order by tier_from) = 1
        as is_version_rate,
    cast(coalesce(
        sum(whole_tier_cost) over (
            partition by price_id, valid_from
            order by tier_from
            rows between unbounded preceding and 1 preceding
        ),
        0
    ) as {{ money_unrounded_type() }}) as cost_before
from tier_costs
