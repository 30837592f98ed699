"""Benchmark: the event-pricing models alone on N synthetic events.

    python bench/pricing_bench.py --events 1000000 [--warehouse /tmp/pricing_bench.duckdb]

Reference rows come from tests/fixtures/raw_basic (3 entities, every pricing model); the events
are generated in SQL straight into raw.marketplace_events (no loader), spread over four months
and all five models. Runs `dbt run` of staging + the pricing models and prints each model's time,
then checks that every price's event amounts sum exactly to its usage lines.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from billing import warehouse as wh  # noqa: E402
from billing.dbt import run_dbt  # noqa: E402

RAW_BASIC = ROOT / "tests" / "fixtures" / "raw_basic"
MODELS = [
    "path:models/staging", "int_entity_keys", "int_events_validated", "int_billable_events",
    "int_price_tiers",
    "int_event_unit_counts", "int_rated_events", "int_usage_lines", "rejected_events",
]
EVENTS_SQL = """
insert into raw.marketplace_events
select
    'b' || i,
    case i % 3 when 0 then 'ent_us' when 1 then 'ent_fr' else 'ent_jp' end,
    case i % 3 when 0 then (case when i % 2 = 0 then 'u_alice' else 'u_bob' end)
        when 1 then 'u_chloe' else 'u_kenji' end,
    case i % 3
        when 0 then (case (i // 3) % 3 when 0 then 'message_sent' when 1 then 'job_search'
                     else 'contract_fee' end)
        when 1 then (case (i // 3) % 2 when 0 then 'proposal_submitted' else 'data_export' end)
        else (case (i // 3) % 2 when 0 then 'message_sent' else 'contract_fee' end)
    end,
    strftime(timestamptz '2026-07-01 00:00:00+00' + to_seconds((hash(i) % 10000000)::bigint),
             '%Y-%m-%dT%H:%M:%SZ'),
    cast(1 + hash(i * 7) % 20 as varchar),
    cast((hash(i * 13) % 100000) // 100 as varchar)
        || '.' || lpad(cast(hash(i) % 100 as varchar), 2, '0'),
    ?, i + 1
from range(?) t(i)
"""


def build(path: Path, events: int) -> None:
    path.unlink(missing_ok=True)
    con = wh.connect(path)
    con.execute(
        "insert into raw.load_runs (load_id, raw_dir, started_at) values (1, 'bench', now())"
    )
    file_id = 0
    for csv_path in sorted(RAW_BASIC.glob("*.csv")):
        table = csv_path.stem
        with csv_path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        file_id += 1
        con.execute(
            "insert into raw.source_files values (?, 'bench', ?, ?, 'sha', 0, ?, 1, 1, true, null)",
            [file_id, csv_path.name, table, len(rows)],
        )
        cols = wh.RAW_TABLES[table]
        con.executemany(
            f"insert into raw.{table} values ({', '.join('?' * (len(cols) + 2))})",
            [[r.get(c) or None for c in cols] + [file_id, n] for n, r in enumerate(rows, 1)],
        )
    file_id += 1
    con.execute(
        "insert into raw.source_files values (?, 'bench', 'marketplace_events.csv', "
        "'marketplace_events', 'sha', 0, ?, 1, 1, true, null)",
        [file_id, events],
    )
    con.execute(EVENTS_SQL, [file_id, events])
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--warehouse", type=Path, default=Path("/tmp/pricing_bench.duckdb"))
    parser.add_argument("--target-path", type=Path, default=Path("/tmp/pricing_bench_target"))
    args = parser.parse_args()
    started = time.perf_counter()
    build(args.warehouse, args.events)
    print(f"raw rows written: {args.events:,} events in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    result = run_dbt(["run", "--select", *MODELS, "--log-path", str(args.target_path / "logs")],
                     args.warehouse, target_path=args.target_path)
    total = time.perf_counter() - started
    for name, seconds in sorted(result.timings.items(), key=lambda kv: -kv[1])[:8]:
        print(f"{seconds:8.2f}s  {name}")
    print(f"dbt run (incl. parse): {total:.1f}s")
    con = wh.connect(args.warehouse, read_only=True)
    mismatches = con.execute("""
        with by_event as (select entity_id, period, price_id, sum(amount) as a
                          from intermediate.int_rated_events group by all),
             by_line as (select entity_id, period, price_id, sum(amount) as a
                         from intermediate.int_usage_lines group by all)
        select count(*) from by_event full join by_line using (entity_id, period, price_id)
        where by_event.a is distinct from by_line.a
    """).fetchone()[0]
    print(f"prices whose event amounts differ from their lines: {mismatches}")


if __name__ == "__main__":
    main()
