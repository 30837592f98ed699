"""Prepaid-credit drawdown: one row per event that drew credits or is an overage.

The contract's rule is sequential: per entity, events in (occurred_at, event_id) order each draw
min(amount, user room, credits available), from the valid lot that expires first (then purchased
first, then lowest purchase_id), then the next. Set-based SQL first narrows the events to those
that can draw at all (int_credit_draw_candidates: a positive amount inside the entity's credit
span); this model runs the drawdown over those with `billing.drawdown.draw_down` (exact integer
arithmetic; a compiled kernel on large inputs) and writes, per event: what it drew (`draws`: a list
of {purchase_id, amount}, in draw order), the user's room and the entity's balance before it, and
whether the user's limit stopped it (is_overage). Only events that drew something or are overages
are written (a small share of the candidates once credits run out); every other event drew nothing
and is no overage, which rated_events reads from the missing row.

Speed: DuckDB sorts the candidates by (entity_key, occurred_us, event_id) and hands over
integers only (entity_key, member_key, period_key, event_key: strings cost more to carry through
a sort and into Python than the rest of the row together). The kernel sees integer identities;
the kept rows get their event, entity and user ids and period back in one join at the end.

Memory: candidates are read in one sorted stream, cut at entity boundaries into chunks of about
CHUNK_ROWS rows (`billing.chunking.chunks_by`); only the kept rows (those that drew or are
overages) are held until the end.
"""

import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ROWS = 2_000_000

LOTS_SQL = """
select
    entity_key,
    purchase_id,
    epoch_us(purchased_at) as purchased_us,
    epoch_us(expires_at) as expires_us,
    credits
from lots
"""

#: The kernel's column names for the candidates' integer identities.
KERNEL_NAMES = {"entity_key": "entity_id", "member_key": "user_id", "period_key": "period"}
#: What the kernel says per event, kept beside the event_key (the identities come back by join).
RESULTS = [
    "occurred_at", "amount", "credit_limit", "user_room_before", "balance_before",
    "credits_drawn", "balance_after", "is_overage", "draws",
]


def as_kernel_input(table):
    """The same columns under the kernel's names (entity_key is its entity_id, and so on)."""
    return table.rename_columns([KERNEL_NAMES.get(c, c) for c in table.column_names])


def kept(result, events):
    """The events that drew credits or were stopped by their limit: event_key and results.

    The drawdown keeps its input's row order, so the key is taken from the input row by row.
    """
    keep = pc.or_(pc.greater(result.column("credits_drawn"), 0), result.column("is_overage"))
    narrow = result.select(RESULTS).add_column(0, "event_key", events.column("event_key"))
    return narrow.filter(keep)


def model(dbt, session):
    dbt.config(materialized="table")
    from billing.chunking import chunks_by
    from billing.drawdown import draw_down

    candidates = dbt.ref("int_credit_draw_candidates")
    billable = dbt.ref("int_billable_events")
    lots = as_kernel_input(dbt.ref("int_credit_lots").query("lots", LOTS_SQL).to_arrow_table())

    # a cursor of its own: this stream is read while DuckDB works on `session`
    columns = "event_key, entity_key, member_key, period_key, occurred_at, occurred_us, amount, "
    columns += "credit_limit"
    reader = session.cursor().sql(
        f"select {columns} from ({candidates.sql_query()}) "
        "order by entity_key, occurred_us, event_id"
    ).to_arrow_reader(500_000)

    parts = []
    for chunk in chunks_by(reader, "entity_key", CHUNK_ROWS):
        parts.append(kept(draw_down(as_kernel_input(chunk), lots), chunk))
    if not parts:
        empty = reader.schema.empty_table()
        parts.append(kept(draw_down(as_kernel_input(empty), lots), empty))
    session.register("int_credit_drawdown__kept", pa.concat_tables(parts))
    return session.sql(
        f"""
        select
            k.event_key,
            b.event_id,
            b.entity_id,
            b.user_id,
            k.occurred_at,
            b.period,
            k.* exclude (event_key, occurred_at)
        from int_credit_drawdown__kept as k
        inner join ({billable.sql_query()}) as b
            on b.event_key = k.event_key
        """
    )
