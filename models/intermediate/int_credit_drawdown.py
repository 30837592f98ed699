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

Memory stays bounded at any size: candidates are read in one sorted stream, cut at entity
boundaries into chunks of about CHUNK_ROWS rows, and each chunk's result is handed to DuckDB as
it is made (a RecordBatchReader), so no more than a chunk or two is ever held in Python.
"""

import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ROWS = 2_000_000

LOTS_SQL = """
select
    entity_id,
    purchase_id,
    epoch_us(purchased_at) as purchased_us,
    epoch_us(expires_at) as expires_us,
    credits
from lots
"""


def entity_chunks(batches, max_rows):
    """Regroup record batches sorted by entity_id into tables that never split an entity."""
    pending = []
    pending_rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows < max_rows:
            continue
        table = pa.Table.from_batches(pending)
        entities = table.column("entity_id")
        # the last entity's rows may go on in the next batch: they wait for it
        tail = pc.sum(pc.equal(entities, entities[len(table) - 1])).as_py()
        if tail == len(table):
            continue  # one entity fills the whole buffer: read on until it ends
        yield table.slice(0, len(table) - tail)
        rest = table.slice(len(table) - tail)
        pending = rest.to_batches()
        pending_rows = rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)


def kept(result, events):
    """The events that drew credits or were stopped by their limit, with their event_key.

    The drawdown keeps its input's row order, so the key is taken from the input row by row.
    Every other candidate drew nothing and is no overage: rated_events says so without a row.
    """
    result = result.add_column(0, "event_key", events.column("event_key"))
    keep = pc.or_(pc.greater(result.column("credits_drawn"), 0), result.column("is_overage"))
    return result.filter(keep)


def model(dbt, session):
    dbt.config(materialized="table")
    from billing.drawdown import draw_down

    candidates = dbt.ref("int_credit_draw_candidates")
    lots = dbt.ref("int_credit_lots").query("lots", LOTS_SQL).to_arrow_table()
    # a cursor of its own: this stream is read while DuckDB writes the result on `session`
    reader = session.cursor().sql(
        f"select * from ({candidates.sql_query()}) order by entity_key, occurred_us, event_id"
    ).to_arrow_reader(500_000)

    chunks = entity_chunks(reader, CHUNK_ROWS)
    first_chunk = next(chunks, None)
    if first_chunk is None:
        first_chunk = reader.schema.empty_table()
    first = kept(draw_down(first_chunk, lots), first_chunk)

    def results():
        yield from first.to_batches()
        for chunk in chunks:
            yield from kept(draw_down(chunk, lots), chunk).to_batches()

    return pa.RecordBatchReader.from_batches(first.schema, results())
