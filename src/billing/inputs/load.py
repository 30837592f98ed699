"""Load a raw folder into ``raw.*``: incremental, idempotent and all-or-nothing.

Every file is fingerprinted (SHA-256) and tracked in ``raw.source_files`` per (resolved raw
folder, relative path):

* a file seen for the first time is read (a new file_id);
* an unchanged file (same SHA-256 as its active version) is skipped: loading a folder twice adds
  nothing;
* a changed file gets a new version (a new file_id); the old version becomes inactive
  (``retracted_load_id``) and its rows stay in ``raw.*`` for audit;
* a file that has disappeared from the folder becomes inactive (``retracted_load_id``).

``first_load_id`` is the load that first saw a path: "first loaded" is the order
(first_load_id, rel_path, _row_number). Reference tables are then validated (see
``billing.inputs.rules``); any error rolls the whole load back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from billing import warehouse as wh
from billing.errors import InputError
from billing.inputs.readers import RawFile, discover_table_files, load_file, sha256_of
from billing.inputs.rules import REFERENCE_TABLES, SPECS, check_reference_tables
from billing.inputs.sql import run, scalar
from billing.warehouse import OPTIONAL_TABLES, RAW_TABLES

#: Columns each table's files must carry (optional columns may be absent: they read as NULL).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    **{t: tuple(c.name for c in SPECS[t] if c.required) for t in REFERENCE_TABLES},
    "marketplace_events": ("event_id", "entity_id", "user_id", "event_type", "occurred_at"),
    "payments": RAW_TABLES["payments"],
}


@dataclass(frozen=True)
class FileOutcome:
    """What one load did with one file."""

    table: str
    rel_path: str
    status: str  # new, changed, unchanged, removed
    rows: int | None = None  # rows read (None when the file was not read)


@dataclass
class LoadSummary:
    """The result of one ``load_raw_dir`` call."""

    load_id: int
    raw_dir: Path
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)  # rows read by this load
    events_rows_added: int = 0
    files: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    #: set by the load flow: webhooks the loaded payments triggered (billing.payment_failed, ...)
    webhooks_queued: int = 0

    @property
    def rows_loaded(self) -> int:
        return sum(self.rows_by_table.values())

    @property
    def changed_anything(self) -> bool:
        return bool(self.files_new or self.files_changed or self.files_removed)


#: Called once per file as the load goes (e.g. to drive a progress bar).
ProgressCallback = Callable[[FileOutcome], None]


@dataclass(frozen=True)
class _Found:
    file: RawFile
    sha256: str
    size: int


def _discover(raw_dir: Path) -> list[_Found]:
    """Every table file in the folder, fingerprinted, in path order; required tables checked."""
    found: list[_Found] = []
    for table in RAW_TABLES:
        files = discover_table_files(raw_dir, table)
        if not files and table not in OPTIONAL_TABLES:
            raise InputError(
                table, None,
                f"required table {table} is missing (expected {table}.csv, {table}.jsonl, "
                f"{table}.parquet or a folder {table}/ of such files)",
            )
        found.extend(_Found(f, sha256_of(f.path), f.path.stat().st_size) for f in files)
    return sorted(found, key=lambda f: f.file.rel_path)


def load_raw_dir(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path | str,
    *,
    progress: ProgressCallback | None = None,
    own_transaction: bool = True,
) -> LoadSummary:
    """Load the raw folder ``raw_dir`` into ``raw.*``; all or nothing.

    Raises ``InputError`` (file, row, rule) when the folder breaks the contract; the warehouse
    is then left exactly as it was. With ``own_transaction=False`` the load runs inside a
    transaction the caller has already begun, and the caller commits or rolls back (DuckDB has
    no nested transactions, and a failed ``begin`` would abort the caller's).
    """
    started = time.perf_counter()
    raw_dir = Path(raw_dir).resolve()
    if not raw_dir.is_dir():
        raise InputError(str(raw_dir), None, "the raw folder does not exist")
    found = _discover(raw_dir)
    if own_transaction:
        wh.bootstrap(con)
        run(con, "begin transaction")
    try:
        summary = _load(con, raw_dir, found, progress)
    except BaseException:
        if own_transaction:
            run(con, "rollback")
        raise
    if own_transaction:
        run(con, "commit")
    summary.seconds = time.perf_counter() - started
    return summary


def _load(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, found: list[_Found],
    progress: ProgressCallback | None,
) -> LoadSummary:
    load_id = int(scalar(con, "select coalesce(max(load_id), 0) + 1 from raw.load_runs"))
    run(
        con, "insert into raw.load_runs (load_id, raw_dir, started_at) values (?, ?, ?)",
        [load_id, str(raw_dir), datetime.now(UTC)],
    )
    active = {
        rel: (file_id, sha)
        for file_id, rel, sha in run(
            con, "select file_id, rel_path, sha256 from raw.source_files "
            "where raw_dir = ? and is_active", [str(raw_dir)],
        )
    }
    first_seen = dict(
        run(
            con, "select rel_path, min(first_load_id) from raw.source_files where raw_dir = ? "
            "group by rel_path", [str(raw_dir)],
        )
    )
    next_file_id = int(scalar(con, "select coalesce(max(file_id), 0) + 1 from raw.source_files"))
    summary = LoadSummary(load_id=load_id, raw_dir=raw_dir)
    summary.rows_by_table = {t: 0 for t in RAW_TABLES}
    reference_touched = False

    def report(outcome: FileOutcome) -> None:
        summary.files.append(outcome)
        if progress is not None:
            progress(outcome)

    for item in found:
        rf = item.file
        previous = active.pop(rf.rel_path, None)
        if previous is not None and previous[1] == item.sha256:
            summary.files_unchanged += 1
            report(FileOutcome(rf.table, rf.rel_path, "unchanged"))
            continue
        if previous is not None:
            _retract(con, previous[0], load_id)
        rows = load_file(
            con, rf, next_file_id, RAW_TABLES[rf.table], REQUIRED_COLUMNS[rf.table]
        )
        run(
            con, "insert into raw.source_files (file_id, raw_dir, rel_path, table_name, sha256, "
            "size_bytes, row_count, first_load_id, load_id, is_active) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, true)",
            [
                next_file_id, str(raw_dir), rf.rel_path, rf.table, item.sha256, item.size, rows,
                first_seen.get(rf.rel_path, load_id), load_id,
            ],
        )
        next_file_id += 1
        status = "changed" if previous is not None else "new"
        summary.files_changed += status == "changed"
        summary.files_new += status == "new"
        summary.rows_by_table[rf.table] += rows
        reference_touched |= rf.table in REFERENCE_TABLES
        report(FileOutcome(rf.table, rf.rel_path, status, rows))

    for rel_path, (file_id, _sha) in sorted(active.items()):
        table = scalar(con, "select table_name from raw.source_files where file_id = ?", [file_id])
        _retract(con, file_id, load_id)
        summary.files_removed += 1
        reference_touched |= table in REFERENCE_TABLES
        report(FileOutcome(table, rel_path, "removed"))

    if reference_touched:
        check_reference_tables(con, load_id, raw_dir)
    summary.events_rows_added = summary.rows_by_table["marketplace_events"]
    run(
        con, "update raw.load_runs set finished_at = ?, files_new = ?, files_changed = ?, "
        "files_removed = ?, rows_loaded = ? where load_id = ?",
        [
            datetime.now(UTC), summary.files_new, summary.files_changed,
            summary.files_removed, summary.rows_loaded, load_id,
        ],
    )
    return summary


def _retract(con: duckdb.DuckDBPyConnection, file_id: int, load_id: int) -> None:
    run(
        con, "update raw.source_files set is_active = false, retracted_load_id = ? "
        "where file_id = ?", [load_id, file_id],
    )
