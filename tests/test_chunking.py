"""billing.chunking.chunks_by: a sorted stream cut into chunks that never split a key."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.chunking import chunks_by


def batches(keys: list[int], size: int) -> list[pa.RecordBatch]:
    table = pa.table({"entity_key": pa.array(keys, pa.int32()),
                      "row": pa.array(range(len(keys)), pa.int64())})
    return table.to_batches(max_chunksize=size) if keys else []


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(1, 9), max_size=30),
    size=st.integers(1, 7),
    max_rows=st.integers(1, 12),
)
def test_chunks_keep_every_row_in_order_and_never_split_a_key(
    counts: list[int], size: int, max_rows: int
) -> None:
    keys = [k for k, n in enumerate(counts) for _ in range(n)]
    chunks = list(chunks_by(batches(keys, size), "entity_key", max_rows))
    assert [r for c in chunks for r in c.column("row").to_pylist()] == list(range(len(keys)))
    seen: set[int] = set()
    for chunk in chunks:
        assert chunk.num_rows > 0
        values = set(chunk.column("entity_key").to_pylist())
        assert not values & seen  # a key is never in two chunks
        seen |= values
        # a chunk only grows past max_rows to keep a key whole (by less than one batch + key)
        if len(values) > 1:
            assert chunk.num_rows < max_rows + size + max(counts)


def test_one_key_larger_than_a_chunk_stays_whole() -> None:
    chunks = list(chunks_by(batches([1] * 10 + [2] * 3, 2), "entity_key", 4))
    assert [c.column("entity_key").to_pylist() for c in chunks] == [[1] * 10, [2] * 3]
