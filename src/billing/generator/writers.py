"""Writing tables as CSV, JSONL and Parquet, byte-for-byte reproducibly."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

Value = str | None


def open_text(path: Path) -> IO[str]:
    return path.open("w", encoding="utf-8", newline="")


def csv_writer(handle: IO[str]):
    return csv.writer(handle, lineterminator="\n")


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, str]]) -> int:
    """A CSV with a header; empty strings for empty cells. Returns the row count."""
    count = 0
    with open_text(path) as handle:
        writer = csv_writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
            count += 1
    return count


def write_jsonl(path: Path, columns: Sequence[str], rows: Iterable[dict[str, str]]) -> int:
    """One JSON object per line; empty optional values are left out (a missing key)."""
    count = 0
    with open_text(path) as handle:
        for row in rows:
            obj = {c: row[c] for c in columns if row.get(c, "") != ""}
            handle.write(json.dumps(obj, ensure_ascii=False) + "\n")
            count += 1
    return count


def table_rows(table: pa.Table) -> Iterator[tuple[Value, ...]]:
    """The rows of an all-string Arrow table as tuples (None for null)."""
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return zip(*columns, strict=True)


def append_csv(handle: IO[str], table: pa.Table) -> None:
    csv_writer(handle).writerows(table_rows(table))  # None is written as an empty cell


def append_jsonl(handle: IO[str], table: pa.Table, *, integer_columns: Sequence[str] = ()) -> None:
    """Append rows as JSON lines: nulls left out, ``integer_columns`` as JSON integers."""
    names = table.column_names
    as_int = {names.index(c) for c in integer_columns}
    lines = []
    for row in table_rows(table):
        obj: dict[str, str | int] = {}
        for i, value in enumerate(row):
            if value is None:
                continue
            obj[names[i]] = int(value) if i in as_int else value
        lines.append(json.dumps(obj, ensure_ascii=False))
    if lines:
        handle.write("\n".join(lines) + "\n")


#: Low-cardinality event columns, dictionary-encoded in Parquet (faster and smaller).
DICTIONARY_COLUMNS = ("entity_id", "user_id", "event_type", "quantity")


def write_parquet(path: Path, table: pa.Table) -> None:
    """One Parquet file, one row group, zstd; every column a string."""
    pq.write_table(
        table,
        path,
        compression="zstd",
        use_dictionary=[c for c in DICTIONARY_COLUMNS if c in table.column_names],
        row_group_size=max(1, table.num_rows),
    )
