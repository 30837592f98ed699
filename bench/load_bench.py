"""Time loading N marketplace events from one Parquet file (plus raw_basic's reference tables).

    .venv/bin/python bench/load_bench.py [--events N] [--format parquet|csv|jsonl] [--work DIR]

Prints the seconds of the first load (reads everything) and of a reload (a no-op).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from billing import warehouse as wh
from billing.inputs import load_raw_dir

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "raw_basic"

EVENTS_SQL = """
select 'ev_' || lpad(i::varchar, 9, '0') as event_id,
       ['ent_us', 'ent_fr', 'ent_jp'][(i % 3) + 1] as entity_id,
       ['u_alice', 'u_alice', 'u_kenji'][(i % 3) + 1] as user_id,
       'message_sent' as event_type,
       strftime(timestamptz '2026-09-01 00:00:00+00' + to_seconds(i % 5000000),
                '%Y-%m-%dT%H:%M:%SZ') as occurred_at,
       ((i % 7) + 1)::varchar as quantity,
       case when i % 10 = 0 then ((i % 9999) / 100)::decimal(10,2)::varchar end as amount
from range({n}) t(i)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["parquet", "csv", "jsonl"], default="parquet")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="load_bench_"))
    raw = work / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    shutil.copytree(FIXTURE, raw, ignore=shutil.ignore_patterns("README.md", "marketplace_events"))
    (raw / "marketplace_events").mkdir()
    target = raw / "marketplace_events" / f"bench.{args.format}"
    fmt = {"parquet": "(format parquet)", "csv": "(format csv, header)",
           "jsonl": "(format json)"}[args.format]
    started = time.perf_counter()
    duckdb.sql(f"copy ({EVENTS_SQL.format(n=args.events)}) to '{target}' {fmt}")
    print(f"generated {args.events:,} events as {target.name} "
          f"({target.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f}s")

    warehouse = work / "bench.duckdb"
    warehouse.unlink(missing_ok=True)
    with wh.connect(warehouse) as con:
        first = load_raw_dir(con, raw)
        print(f"first load: {first.events_rows_added:,} events in {first.seconds:.2f}s "
              f"({first.events_rows_added / first.seconds:,.0f} events/s)")
        again = load_raw_dir(con, raw)
        print(f"reload (no-op): {again.files_unchanged} files unchanged in {again.seconds:.2f}s")


if __name__ == "__main__":
    main()
