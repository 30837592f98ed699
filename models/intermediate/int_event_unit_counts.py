"""Units counted in order: one row per graduated, package or volume billable event.

Grain: one row per event_key. units_after = the units of the event's (entity, period, price_id)
counted in (occurred_at, event_id) order, up to and including the event (the contract's "Event
amounts" order). int_rated_events prices each event from the count before and after it.

Why a Python model and not `sum(quantity) over (partition by ... order by ...)`: the running sum
is one sorted pass. DuckDB's window operator for a running SUM takes about 5x longer than the sort
itself at 10M events; here DuckDB sorts (its ORDER BY guarantees the order of the rows handed
over), and a vectorized cumulative sum with a reset at each partition boundary does the rest.
Rows stream through in batches (the running total carries over from one batch to the next), so
memory stays bounded at any size.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

COUNTED_MODELS = ("graduated", "package", "volume")
SCHEMA = pa.schema([("event_key", pa.int64()), ("units_after", pa.int64())])


def partition_starts(batch, previous_key):
    """True where a row starts a new (entity, period, price) partition."""
    keys = [batch.column(name) for name in ("entity_key", "period", "price_key")]
    n = batch.num_rows
    starts = np.zeros(n, dtype=bool)
    for column in keys:
        changed = pc.not_equal(column.slice(1), column.slice(0, n - 1))
        starts[1:] |= changed.to_numpy(zero_copy_only=False)
    first_key = tuple(column[0].as_py() for column in keys)
    starts[0] = first_key != previous_key
    last_key = tuple(column[n - 1].as_py() for column in keys)
    return starts, last_key


def running_units(batches):
    """Cumulative units per partition, batch by batch."""
    previous_key, carry = None, 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        quantity = batch.column("quantity").to_numpy(zero_copy_only=False).astype(np.int64)
        starts, last_key = partition_starts(batch, previous_key)
        total = np.cumsum(quantity)
        total += carry  # the first partition may go on from the previous batch
        start_rows = np.flatnonzero(starts)
        # every row minus the running total just before its partition started
        offsets = np.zeros(len(quantity), dtype=np.int64)
        if len(start_rows):
            before_start = total[start_rows] - quantity[start_rows]
            lengths = np.diff(np.append(start_rows, len(quantity)))
            offsets[start_rows[0]:] = np.repeat(before_start, lengths)
        units_after = total - offsets
        previous_key, carry = last_key, int(units_after[-1])
        yield pa.record_batch(
            [batch.column("event_key"), pa.array(units_after, pa.int64())], schema=SCHEMA
        )


def model(dbt, session):
    dbt.config(materialized="table")
    events = dbt.ref("int_billable_events")
    models = ", ".join(f"'{m}'" for m in COUNTED_MODELS)
    # a cursor of its own: this stream is read while DuckDB writes the result on `session`
    reader = session.cursor().sql(
        f"select event_key, entity_key, period, price_key, quantity "
        f"from ({events.sql_query()}) where model in ({models}) "
        f"order by entity_key, period, price_key, occurred_at, event_id"
    ).to_arrow_reader(1_000_000)
    return pa.RecordBatchReader.from_batches(SCHEMA, running_units(reader))
