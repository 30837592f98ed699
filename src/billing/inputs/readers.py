"""Read one raw table file into ``raw.<table>``: every value kept as the exact text given.

A table is given as ``NAME.csv``, ``NAME.jsonl``, ``NAME.parquet`` or a directory ``NAME/`` of
such files (any mix). Values are stored as VARCHAR, never parsed here:

* CSV     — DuckDB ``read_csv`` with the header read by Python and every column declared VARCHAR
            (no sniffing, strict RFC 4180 quoting, multi-line quoted cells allowed);
* JSONL   — Python ``json.loads`` with numbers kept as their source text (``1250.00`` stays
            ``1250.00``; DuckDB's ``read_json`` would turn them into doubles);
* Parquet — DuckDB ``read_parquet`` with every column cast to VARCHAR (decimals are exact).

An empty string, an empty CSV cell, a JSON ``null`` and a missing JSON key are all NULL.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from billing.errors import InputError
from billing.inputs.sql import run

#: File suffixes a raw table may use, and the reader each one takes.
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
_JSONL_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class RawFile:
    """One file of one raw table, as found in the raw folder."""

    table: str
    path: Path
    rel_path: str  # POSIX path relative to the raw folder: what errors and source_files name

    @property
    def format(self) -> str:
        return FORMATS[self.path.suffix.lower()]


def discover_table_files(raw_dir: Path, table: str) -> list[RawFile]:
    """The files of ``table`` in ``raw_dir``, in path order (empty when the table is absent).

    ``NAME.csv``, ``NAME.jsonl``, ``NAME.parquet`` and every such file directly inside a
    directory ``NAME/`` are all read. Hidden files and other suffixes inside the directory are
    ignored (a README beside the data does no harm).
    """
    found: list[Path] = []
    for suffix in FORMATS:
        candidate = raw_dir / f"{table}{suffix}"
        if candidate.is_file():
            found.append(candidate)
    folder = raw_dir / table
    if folder.is_dir():
        found.extend(
            p for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FORMATS
        )
    files = [RawFile(table, p, p.relative_to(raw_dir).as_posix()) for p in found]
    return sorted(files, key=lambda f: f.rel_path)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_columns(
    file: RawFile, present: Sequence[str], required: Sequence[str]
) -> None:
    seen: set[str] = set()
    for name in present:
        if name in seen:
            raise InputError(file.rel_path, None, f"column {name!r} appears twice in the header")
        seen.add(name)
    for name in required:
        if name not in seen:
            raise InputError(file.rel_path, None, f"required column {name!r} is missing")


def _select_list(present: Sequence[str], columns: Sequence[str], cast: bool) -> str:
    """One expression per contract column: the value as text, '' → NULL, absent column → NULL."""
    exprs = []
    for name in columns:
        if name in present:
            value = f"cast({_ident(name)} as varchar)" if cast else _ident(name)
            exprs.append(f"nullif({value}, '')")
        else:
            exprs.append("cast(null as varchar)")
    return ", ".join(exprs)


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    cols = ", ".join(_ident(c) for c in columns)
    return f"insert into raw.{table} ({cols}, _file_id, _row_number)"


# --- CSV -----------------------------------------------------------------------------------


def not_utf8(file: RawFile) -> InputError:
    """The first physical line (1-based; a CSV's header is line 1) that is not UTF-8 text."""
    with file.path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = raw[exc.start]
                return InputError(
                    file.rel_path, None,
                    f"is not UTF-8 text: byte 0x{byte:02x} at line {line_no}, column "
                    f"{exc.start + 1} (save the file as UTF-8)",
                )
    return InputError(file.rel_path, None, "is not UTF-8 text (save the file as UTF-8)")


def _csv_header(file: RawFile) -> list[str]:
    with file.path.open("r", encoding="utf-8-sig", newline="") as fh:
        try:
            header = next(csv.reader(fh), None)
        except UnicodeDecodeError as exc:  # the decoder reads ahead: the bad byte may be later
            raise not_utf8(file) from exc
        except csv.Error as exc:
            raise InputError(file.rel_path, None, f"cannot read the CSV header: {exc}") from exc
    if not header:
        raise InputError(file.rel_path, None, "the file is empty: a CSV table needs a header row")
    return header


def _duckdb_csv_error(file: RawFile, exc: duckdb.Error) -> InputError:
    """DuckDB's CSV error as one line: the physical line (the header is line 1) and the fault."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    skip = ("Invalid Input Error", "Original Line", "Possible fixes", "*", "file =")
    details = [
        ln.strip() for ln in text.splitlines()
        if ln.strip() and not ln.strip().startswith(skip) and " = " not in ln
    ]
    detail = details[0] if details else text.splitlines()[0]
    where = f" at line {line.group(1)}" if line else ""
    return InputError(file.rel_path, None, f"malformed CSV{where}: {detail}")


def load_csv(
    con: duckdb.DuckDBPyConnection, file: RawFile, file_id: int,
    columns: Sequence[str], required: Sequence[str],
) -> int:
    header = _csv_header(file)
    _check_columns(file, header, required)
    declared = "{" + ", ".join(f"{_sql_str(h)}: 'VARCHAR'" for h in header) + "}"
    source = (
        f"read_csv({_sql_str(str(file.path))}, header=true, auto_detect=false, "
        f"columns={declared}, delim=',', quote='\"', escape='\"', strict_mode=true, "
        "null_padding=false)"
    )
    sql = (
        f"{_insert_sql(file.table, columns)} "
        f"select {_select_list(header, columns, cast=False)}, {file_id}, "
        f"row_number() over () from {source}"
    )
    try:
        return _rowcount(run(con, sql))
    except duckdb.InvalidInputException as exc:
        raise _duckdb_csv_error(file, exc) from exc


# --- Parquet -------------------------------------------------------------------------------


def load_parquet(
    con: duckdb.DuckDBPyConnection, file: RawFile, file_id: int,
    columns: Sequence[str], required: Sequence[str],
) -> int:
    source = f"read_parquet({_sql_str(str(file.path))}, file_row_number=true)"
    try:
        described = run(con, f"describe select * from {source}")
    except duckdb.Error as exc:
        # DuckDB's message, first line only (the rest repeats the query), without the path
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.replace(f" '{file.path}'", "").replace(str(file.path), file.rel_path)
        raise InputError(file.rel_path, None, f"cannot be read as Parquet ({first})") from exc
    present = [row[0] for row in described if row[0] != "file_row_number"]
    _check_columns(file, present, required)
    sql = (
        f"{_insert_sql(file.table, columns)} "
        f"select {_select_list(present, columns, cast=True)}, {file_id}, file_row_number + 1 "
        f"from {source}"
    )
    return _rowcount(run(con, sql))


# --- JSONL ---------------------------------------------------------------------------------


def _json_text(value: object) -> str | None:
    """A JSON value as stored text: strings as given, numbers as their source text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _jsonl_rows(file: RawFile) -> Iterator[tuple[int, dict[str, object]]]:
    """(line number, object) per non-blank line; a line is a data row (there is no header)."""
    with file.path.open("r", encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_float=str, parse_int=str)
            except json.JSONDecodeError as exc:
                raise InputError(file.rel_path, line_no, f"not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise InputError(file.rel_path, line_no, "a JSONL row must be a JSON object")
            yield line_no, obj


def load_jsonl(
    con: duckdb.DuckDBPyConnection, file: RawFile, file_id: int,
    columns: Sequence[str], required: Sequence[str],
) -> int:
    """Stream the file in batches of Arrow string columns (never doubles).

    JSONL has no header: a row may omit a key (that cell is NULL), but a required column that
    no row of a non-empty file carries is missing, as a CSV header without it would be.
    """
    total = 0
    unseen = set(required)
    names = [*columns, "_file_id", "_row_number"]
    schema = pa.schema(
        [pa.field(c, pa.string()) for c in columns]
        + [pa.field("_file_id", pa.int32()), pa.field("_row_number", pa.int64())]
    )
    batch: list[list[str | None]] = [[] for _ in columns]
    row_numbers: list[int] = []

    def flush() -> None:
        nonlocal total
        if not row_numbers:
            return
        arrays = [pa.array(col, pa.string()) for col in batch]
        arrays.append(pa.array([file_id] * len(row_numbers), pa.int32()))
        arrays.append(pa.array(row_numbers, pa.int64()))
        con.register("_jsonl_batch", pa.Table.from_arrays(arrays, schema=schema))
        try:
            cols = ", ".join(_ident(c) for c in names)
            run(con, f"insert into raw.{file.table} ({cols}) select {cols} from _jsonl_batch")
        finally:
            con.unregister("_jsonl_batch")
        total += len(row_numbers)
        for col in batch:
            col.clear()
        row_numbers.clear()

    for line_no, obj in _jsonl_rows(file):
        get = obj.get
        for col, name in zip(batch, columns, strict=True):
            value = get(name)
            col.append(value if type(value) is str and value else _json_text(value))
        if unseen:
            unseen.difference_update(obj.keys())
        row_numbers.append(line_no)
        if len(row_numbers) >= _JSONL_BATCH_ROWS:
            flush()
    flush()
    if total and unseen:
        missing = next(name for name in required if name in unseen)
        raise InputError(file.rel_path, None, f"required column {missing!r} is missing")
    return total


def _rowcount(rows: list[tuple]) -> int:
    return int(rows[0][0]) if rows else 0


def load_file(
    con: duckdb.DuckDBPyConnection, file: RawFile, file_id: int,
    columns: Sequence[str], required: Sequence[str],
) -> int:
    """Append the rows of ``file`` to ``raw.<table>``; return how many rows it held."""
    loader = {"csv": load_csv, "jsonl": load_jsonl, "parquet": load_parquet}[file.format]
    try:
        return loader(con, file, file_id, columns, required)
    except UnicodeDecodeError as exc:
        raise not_utf8(file) from exc


__all__ = ["FORMATS", "RawFile", "discover_table_files", "load_file", "sha256_of"]
