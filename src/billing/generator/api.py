"""``generate``: write a synthetic raw folder that follows CONTRACT.md ("Inputs")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from billing.errors import BillingError
from billing.warehouse import RAW_TABLES

from . import writers
from .events import BAD_KINDS, CONFLICTS, EVENT_COLUMNS, EventSource
from .world import build_world, make_window

#: Reference tables written as JSONL instead of CSV (for variety of formats).
JSONL_TABLES = frozenset({"users"})
#: With events_format "auto", Parquet above this many events, else a CSV and a JSONL part.
AUTO_PARQUET_ABOVE = 200_000
EVENTS_DIR = "marketplace_events"
#: Share of the events that goes to the CSV part in the text format (the rest is JSONL).
CSV_SHARE = 0.6

Progress = Callable[[int, int], None]


@dataclass
class GenerateSummary:
    """What :func:`generate` wrote."""

    out_dir: Path
    counts: dict[str, int]  # rows per table (marketplace_events: every row, extras included)
    periods: list[str]  # the generated billing periods, oldest first
    bad_rows: dict[str, int]  # rows made to be rejected, by the reason they should get
    replays: int  # rows repeating an earlier event_id with the same content
    conflicting_duplicates: int  # rows repeating an earlier event_id with other content
    events_format: str  # "csv" (a CSV part + a JSONL part) or "parquet"
    event_files: list[Path] = field(default_factory=list)

    @property
    def bad_rows_total(self) -> int:
        return sum(self.bad_rows.values())

    @property
    def billable_events(self) -> int:
        """Distinct event ids expected to be billed (rows less bad rows and extras)."""
        return (
            self.counts["marketplace_events"]
            - self.bad_rows_total
            - self.replays
            - self.conflicting_duplicates
        )


def default_end_period(now: datetime | None = None) -> str:
    """The last calendar month that has fully ended in every time zone (UTC-12 ends last)."""
    now = now or datetime.now(UTC)
    year, month = now.year, now.month - 1
    if now.day == 1 and now.hour < 12:
        month -= 1
    if month <= 0:
        year, month = year - 1, month + 12
    return f"{year:04d}-{month:02d}"


def generate(
    out_dir: Path,
    *,
    entities: int = 12,
    events: int = 20_000,
    months: int = 4,
    seed: int = 7,
    end_period: str | None = None,
    events_format: str = "auto",
    progress: Progress | None = None,
    chunk_rows: int = 1_000_000,
) -> GenerateSummary:
    """Write a raw folder: every contract table, ``events`` marketplace events over ``months``
    whole months ending with ``end_period`` (default: the last full month), plus bad rows,
    replays and conflicting duplicates. The same arguments always write the same bytes.

    ``progress(done, total)`` is called after each chunk of events. Files this function writes
    are replaced; other files in ``out_dir`` are left alone.
    """
    if entities < 1:
        raise BillingError(f"entities must be at least 1, got {entities}")
    if events < 0:
        raise BillingError(f"events must be 0 or more, got {events}")
    if months < 1:
        raise BillingError(f"months must be at least 1, got {months}")
    if chunk_rows < 1:
        raise BillingError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if events_format not in ("auto", "csv", "parquet"):
        raise BillingError(f"events format must be auto, csv or parquet, got {events_format!r}")
    if events_format == "auto":
        events_format = "parquet" if events > AUTO_PARQUET_ABOVE else "csv"

    out_dir = Path(out_dir)
    window = make_window(end_period or default_end_period(), months)
    world = build_world(entities=entities, events=events, window=window, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear(out_dir)

    counts: dict[str, int] = {}
    for table, columns in RAW_TABLES.items():
        if table == "marketplace_events":
            continue
        rows = world.tables[table]
        if table in JSONL_TABLES:
            counts[table] = writers.write_jsonl(out_dir / f"{table}.jsonl", columns, rows)
        else:
            counts[table] = writers.write_csv(out_dir / f"{table}.csv", columns, rows)

    source = EventSource(world, events=events, seed=seed)
    writer = _EventWriter(source, out_dir / EVENTS_DIR, events, chunk_rows, progress)
    if events_format == "parquet":
        writer.write_parquet()
    else:
        writer.write_text()
    counts["marketplace_events"] = writer.rows
    counts = {t: counts[t] for t in RAW_TABLES}
    return GenerateSummary(
        out_dir=out_dir,
        counts=counts,
        periods=list(window.periods),
        bad_rows={k: writer.bad[k] for k in BAD_KINDS if writer.bad[k]},
        replays=writer.replays,
        conflicting_duplicates=writer.conflicts,
        events_format=events_format,
        event_files=writer.files,
    )


def _clear(out_dir: Path) -> None:
    """Remove the files a previous run of the generator may have left."""
    for table in RAW_TABLES:
        for suffix in (".csv", ".jsonl", ".parquet"):
            (out_dir / f"{table}{suffix}").unlink(missing_ok=True)
    events_dir = out_dir / EVENTS_DIR
    if events_dir.is_dir():
        for path in events_dir.glob("part-*"):
            if path.suffix in (".csv", ".jsonl", ".parquet"):
                path.unlink()


class _EventWriter:
    """Writes the event stream in parts, counting what it wrote."""

    def __init__(
        self,
        source: EventSource,
        folder: Path,
        events: int,
        chunk_rows: int,
        progress: Progress | None,
    ) -> None:
        self.source, self.folder, self.events = source, folder, events
        self.chunk_rows, self.progress = chunk_rows, progress
        self.rows = self.replays = self.conflicts = 0
        self.bad: Counter[str] = Counter()
        self.files: list[Path] = []
        self.done = 0
        self._positions: pa.Array | None = None  # 0 .. chunk_rows - 1, reused by every chunk
        folder.mkdir(parents=True, exist_ok=True)

    def _chunk(self, lo: int, hi: int) -> pa.Table:
        if self._positions is None or len(self._positions) < hi - lo:
            self._positions = pa.array(range(hi - lo), pa.uint64())
        index = pc.add(self._positions.slice(0, hi - lo), pa.scalar(lo, pa.uint64()))
        chunk = self.source.rows(index)
        kinds = chunk.bad_kind.drop_null()
        if len(kinds):
            for item in pc.value_counts(kinds).to_pylist():
                self.bad[BAD_KINDS[item["values"]]] += item["counts"]
        self.rows += chunk.table.num_rows
        self.done += hi - lo
        if self.progress:
            self.progress(self.done, self.events)
        return chunk.table

    def _extras(self, part: int, lo: int, hi: int, last: bool) -> pa.Table:
        table, replays, conflicts = self.source.extras(
            part, hi, hi - lo, conflicts=CONFLICTS if last else 0
        )
        self.replays += replays
        self.conflicts += conflicts
        self.rows += table.num_rows
        return table

    def _ranges(self, lo: int, hi: int):
        for start in range(lo, hi, self.chunk_rows):
            yield start, min(start + self.chunk_rows, hi)

    def write_parquet(self) -> None:
        """One file per chunk; each file ends with its replays (and the last, the conflicts)."""
        ranges = list(self._ranges(0, self.events)) or [(0, 0)]
        for part, (lo, hi) in enumerate(ranges, start=1):
            table = self._chunk(lo, hi)
            extras = self._extras(part, lo, hi, last=part == len(ranges))
            path = self.folder / f"part-{part:05d}.parquet"
            writers.write_parquet(path, pa.concat_tables([table, extras]))
            self.files.append(path)

    def write_text(self) -> None:
        """A CSV part then a JSONL part (read in path order), each ending with its replays."""
        split = -(-self.events * int(CSV_SHARE * 100) // 100)
        parts = [("csv", 0, split), ("jsonl", split, self.events)]
        for part, (kind, lo, hi) in enumerate(parts, start=1):
            path = self.folder / f"part-{part:05d}.{kind}"
            with writers.open_text(path) as handle:
                if kind == "csv":
                    writers.csv_writer(handle).writerow(EVENT_COLUMNS)
                for start, end in self._ranges(lo, hi):
                    self._append(handle, kind, self._chunk(start, end))
                self._append(handle, kind, self._extras(part, lo, hi, last=part == len(parts)))
            self.files.append(path)

    @staticmethod
    def _append(handle, kind: str, table: pa.Table) -> None:
        if kind == "csv":
            writers.append_csv(handle, table)
        else:
            writers.append_jsonl(handle, table, integer_columns=("quantity",))
