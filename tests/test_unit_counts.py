"""int_event_unit_counts.running_units: the running unit count, batch by batch.

The dbt Python model hands DuckDB's sorted stream (entity_key, period, price_key, occurred_at,
event_id) to `running_units` in record batches; each row gets the units of its
(entity, period, price) partition counted up to and including it. These tests call the function
directly on pyarrow record batches: resets at each key change, partitions carried across
batches, one-row batches, and a property against a plain Python reference.
"""

from __future__ import annotations

import importlib.util
from itertools import groupby
from pathlib import Path
from types import ModuleType

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

MODEL = Path(__file__).resolve().parents[1] / "models" / "intermediate" / "int_event_unit_counts.py"

INPUT = pa.schema(
    [
        ("event_key", pa.int64()),
        ("entity_key", pa.int32()),
        ("period", pa.string()),
        ("price_key", pa.int32()),
        ("quantity", pa.int64()),
    ]
)

Row = tuple[int, str, int, int]  # entity_key, period, price_key, quantity


def load_model() -> ModuleType:
    spec = importlib.util.spec_from_file_location("int_event_unit_counts", MODEL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


unit_counts = load_model()


def batches_of(rows: list[Row], sizes: list[int]) -> list[pa.RecordBatch]:
    """Cut rows (event_key = position) into record batches of the given sizes, in order."""
    assert sum(sizes) == len(rows)
    batches, start = [], 0
    for size in sizes:
        part = rows[start : start + size]
        batches.append(
            pa.record_batch(
                [
                    pa.array(range(start, start + size), pa.int64()),
                    pa.array([r[0] for r in part], pa.int32()),
                    pa.array([r[1] for r in part], pa.string()),
                    pa.array([r[2] for r in part], pa.int32()),
                    pa.array([r[3] for r in part], pa.int64()),
                ],
                schema=INPUT,
            )
        )
        start += size
    return batches


def run(rows: list[Row], sizes: list[int] | None = None) -> list[int]:
    """units_after per row, checking the output's keys, order and schema on the way."""
    out = list(unit_counts.running_units(batches_of(rows, sizes or [len(rows)])))
    for batch in out:
        assert batch.schema == unit_counts.SCHEMA
    keys = [k for batch in out for k in batch.column("event_key").to_pylist()]
    assert keys == list(range(len(rows)))
    return [u for batch in out for u in batch.column("units_after").to_pylist()]


def reference(rows: list[Row]) -> list[int]:
    """Group consecutive rows by (entity, period, price) and sum the quantities in order."""
    result: list[int] = []
    for _, group in groupby(rows, key=lambda r: r[:3]):
        total = 0
        for row in group:
            total += row[3]
            result.append(total)
    return result


def test_resets_at_each_change_of_entity_period_or_price():
    rows = [
        (1, "2026-10", 1, 5),
        (1, "2026-10", 1, 7),  # same partition: 12
        (1, "2026-10", 2, 3),  # price changes
        (1, "2026-10", 2, 4),
        (1, "2026-11", 2, 10),  # period changes
        (1, "2026-11", 2, 1),
        (2, "2026-11", 2, 6),  # entity changes, same period and price
        (2, "2026-11", 2, 2),
    ]
    assert run(rows) == [5, 12, 3, 7, 10, 11, 6, 8]


def test_same_price_in_another_entity_does_not_go_on_counting():
    # only the entity differs between the two runs: a reset must not need the others to change
    rows = [(1, "2026-10", 1, 100), (2, "2026-10", 1, 1), (3, "2026-10", 1, 2)]
    assert run(rows) == [100, 1, 2]


def test_partition_carried_over_two_batches():
    rows = [(1, "2026-10", 1, q) for q in (500, 10000, 4500)] + [(1, "2026-10", 2, 9)]
    # cut after the first event: the second batch goes on from 500
    assert run(rows, [1, 3]) == [500, 10500, 15000, 9]
    assert run(rows, [2, 2]) == [500, 10500, 15000, 9]


def test_partition_spanning_three_batches():
    rows = [(7, "2026-10", 3, 1)] + [(7, "2026-11", 3, q) for q in (2, 3, 4, 5, 6, 7)]
    rows.append((8, "2026-11", 3, 100))
    # the 2026-11 partition starts in batch 1, fills batch 2 and ends in batch 3
    assert run(rows, [3, 3, 2]) == [1, 2, 5, 9, 14, 20, 27, 100]


def test_one_row_batches():
    rows = [
        (1, "2026-10", 1, 2),
        (1, "2026-10", 1, 3),
        (1, "2026-10", 2, 4),
        (2, "2026-10", 2, 5),
        (2, "2026-10", 2, 6),
    ]
    assert run(rows, [1] * len(rows)) == [2, 5, 4, 5, 11]


def test_batch_starting_a_new_partition_does_not_inherit_the_carry():
    # the first partition ends exactly at the batch boundary; the next batch starts a new one
    rows = [
        (1, "2026-10", 1, 40),
        (1, "2026-10", 1, 60),
        (1, "2026-10", 2, 1),
        (1, "2026-10", 2, 1),
    ]
    assert run(rows, [2, 2]) == [40, 100, 1, 2]
    # the same with a one-row batch after the boundary and a change of period only
    rows = [(1, "2026-10", 1, 40), (1, "2026-11", 1, 3), (1, "2026-11", 1, 4)]
    assert run(rows, [1, 1, 1]) == [40, 3, 7]


def test_empty_batches_are_skipped_without_losing_the_carry():
    rows = [(1, "2026-10", 1, 5), (1, "2026-10", 1, 6), (1, "2026-10", 1, 7)]
    assert run(rows, [1, 0, 0, 2, 0]) == [5, 11, 18]
    assert run([], [0]) == []


def test_no_batches_at_all():
    assert list(unit_counts.running_units([])) == []


def test_counts_beyond_32_bits():
    rows = [(1, "2026-10", 1, 3_000_000_000), (1, "2026-10", 1, 3_000_000_000)]
    assert run(rows, [1, 1]) == [3_000_000_000, 6_000_000_000]


keys = st.tuples(
    st.integers(1, 3), st.sampled_from(["2026-09", "2026-10", "2026-11"]), st.integers(1, 3)
)
rows_strategy = st.lists(st.tuples(keys, st.integers(1, 1_000_000)), min_size=0, max_size=60).map(
    lambda items: [(*k, q) for k, q in sorted(items, key=lambda item: item[0])]
)


@st.composite
def rows_and_batch_sizes(draw) -> tuple[list[Row], list[int]]:
    rows = draw(rows_strategy)
    sizes, left = [], len(rows)
    while left:
        size = draw(st.integers(0, min(left, 8)))  # 0: an empty batch now and then
        sizes.append(size)
        left -= size
    return rows, sizes or [0]


@settings(max_examples=300, deadline=None)
@given(rows_and_batch_sizes())
def test_matches_a_plain_python_reference(case):
    rows, sizes = case
    assert run(rows, sizes) == reference(rows)
