"""Cutting a sorted stream of events into chunks for the Python models that walk it in order.

int_credit_drawdown reads its candidates as one DuckDB stream sorted by entity and time, and
runs the drawdown on chunks of a few million rows: :func:`chunks_by` regroups the stream's
record batches so that no chunk splits an entity (an entity's events must meet the kernel
together).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc


def chunks_by(
    batches: Iterable[pa.RecordBatch], column: str, max_rows: int
) -> Iterator[pa.Table]:
    """Regroup record batches sorted by ``column`` into tables that never split a value of it."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows < max_rows:
            continue
        table = pa.Table.from_batches(pending)
        values = table.column(column)
        # the last value's rows may go on in the next batch: they wait for it
        tail = pc.sum(pc.equal(values, values[len(table) - 1])).as_py()
        if tail == len(table):
            continue  # one value fills the whole buffer: read on until it ends
        yield table.slice(0, len(table) - tail)
        rest = table.slice(len(table) - tail)
        pending = rest.to_batches()
        pending_rows = rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)
