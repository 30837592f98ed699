"""Benchmark: load, close, PDFs and webhook delivery on generated data, against a floor query.

    python bench/run.py --events 1000000 --events 10000000 --entities 5000
    python bench/run.py --events 100000000 --memory-limit 16GB     # the 100M run
    python bench/run.py --quick        # CI smoke: 100k events, nothing appended to the docs

Each phase runs in its own process so its peak RSS is its own. Prints a table and appends the
machine, the command and the figures to docs/benchmarks.md (not with --quick unless --record).
PDFs: only the first --pdf-limit invoices are rendered (WeasyPrint renders a few invoices per
second per core); the row gives invoices per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

PERIOD_AS_OF = "T12:00:00Z"
PHASES = ("generate", "floor", "load", "close", "pdf", "webhooks")


def floor_sql(raw: Path) -> str:
    """The least work any correct close must do: aggregate per entity and price, apply tiers."""
    events = raw / "marketplace_events"
    source = (
        f"read_parquet('{events}/*.parquet')"
        if any(events.glob("*.parquet"))
        else f"read_csv('{events}/*.csv', all_varchar=true)"
    )
    return f"""
    with events as (
        select entity_id, event_type, coalesce(try_cast(quantity as bigint), 1) as quantity
        from {source}
    ),
    entities as (select entity_id, currency from read_csv('{raw}/entities.csv', all_varchar=true)),
    quantities as (
        select e.entity_id, e.event_type, n.currency, sum(e.quantity) as quantity
        from events e join entities n using (entity_id) group by all
    ),
    tiers as (
        select price_id, event_type, currency,
               coalesce(try_cast(tier_from as bigint), 0) as tier_from,
               try_cast(tier_to as bigint) as tier_to,
               coalesce(try_cast(unit_price as decimal(38, 12)), 0) as unit_price,
               coalesce(try_cast(flat_fee as decimal(38, 12)), 0) as flat_fee
        from read_csv('{raw}/event_prices.csv', all_varchar=true)
    )
    select q.entity_id, t.price_id,
           sum(greatest(0, least(q.quantity, coalesce(t.tier_to, q.quantity)) - t.tier_from)
               * t.unit_price
               + case when q.quantity > t.tier_from then t.flat_fee else 0 end) as amount
    from quantities q join tiers t using (event_type, currency)
    group by all
    """


def worker(phase: str, args: argparse.Namespace) -> dict:
    """Run one phase in this process and return its figures."""
    from billing import pipeline

    warehouse, raw = args.warehouse, Path(args.raw)
    start = time.perf_counter()
    extra: dict = {}
    if phase == "generate":
        summary = pipeline.generate(
            raw, entities=args.entities, events=args.events, months=args.months,
            seed=args.seed, end_period=args.period,
        )
        extra["rows"] = sum(summary.counts.values())
    elif phase == "load":
        pipeline.load(warehouse, raw)
        pipeline.stage(warehouse)  # what `billing load` does: parse the new events once
    elif phase == "close":
        from flows.close import run_close

        as_of = _next_month(args.period) + "-01" + PERIOD_AS_OF
        report = run_close(warehouse, args.period, skip_pdf=True, as_of=as_of, progress=False)
        extra["phases"] = {k: round(v, 2) for k, v in report.phases.items()}
        extra["invoices"] = sum(len(c.invoice_ids) for c in report.closed)
    elif phase == "floor":
        import duckdb

        con = duckdb.connect()
        if args.memory_limit:
            con.execute(f"set memory_limit = '{args.memory_limit}'")
        extra["rows"] = len(con.execute(floor_sql(raw)).fetchall())
    elif phase == "pdf":
        extra.update(_render(warehouse, args.period, args.pdf_limit))
    elif phase == "webhooks":
        extra.update(_deliver(warehouse))
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    extra["load_avg"] = round(os.getloadavg()[0], 1)  # other jobs on the machine skew figures
    return {"phase": phase, "seconds": seconds, "rss_mb": max(rss_mb, rss_children), **extra}


def _render(warehouse: str, period: str, limit: int) -> dict:
    """Render the first ``limit`` finalized invoices of the period (what render_many does)."""
    from billing import close as closing
    from billing.paths import pdf_dir
    from billing.pdf.load import load_invoice_docs
    from billing.pdf.render import render_many

    with pipeline_opened(warehouse) as con:
        todo = closing.invoices_without_pdf(con, period)[:limit]
        docs = load_invoice_docs(con, todo)
    start = time.perf_counter()
    results = render_many(docs, pdf_dir(Path(warehouse), period), progress=False)
    seconds = time.perf_counter() - start
    return {"pdfs": len(results), "pdfs_per_s": round(len(results) / seconds, 1)}


def pipeline_opened(warehouse: str):
    from billing import pipeline

    return pipeline.opened(warehouse)


def _deliver(warehouse: str) -> dict:
    """Deliver the outbox the close queued to a verifying receiver in another process."""
    import base64
    import socket

    from billing import pipeline

    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "BENCH_WEBHOOK_SECRET": secret}
    receiver = subprocess.Popen(
        [sys.executable, "-m", "billing.webhooks.receiver", "--port", str(port),
         "--secret-env", "BENCH_WEBHOOK_SECRET"],
        env=env, stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        start = time.perf_counter()
        summary = pipeline.deliver(
            warehouse, url=f"http://127.0.0.1:{port}/webhooks", secret=secret, concurrency=16
        )
        seconds = time.perf_counter() - start
    finally:
        receiver.terminate()
        receiver.wait()
    return {"delivered": summary.delivered, "dead": summary.dead,
            "deliveries_per_s": round(summary.delivered / seconds, 1) if seconds else 0}


def _next_month(period: str) -> str:
    year, month = map(int, period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}"


def run_phase(phase: str, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable, __file__, "--worker", phase, "--warehouse", args.warehouse,
        "--raw", args.raw, "--period", args.period, "--events", str(args.events),
        "--entities", str(args.entities), "--months", str(args.months),
        "--seed", str(args.seed), "--pdf-limit", str(args.pdf_limit),
    ]
    if args.memory_limit:
        cmd += ["--memory-limit", args.memory_limit]
    env = dict(os.environ)
    if args.memory_limit:
        env["BILLING_DUCKDB_MEMORY_LIMIT"] = args.memory_limit
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-5000:])
        raise SystemExit(f"phase {phase} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, action="append",
                        help="events to generate and close; repeat for several sizes (default 1M)")
    parser.add_argument("--entities", type=int, default=5000,
                        help="billing entities (capped at events/200 for small runs)")
    parser.add_argument("--months", type=int, default=1,
                        help="months of events to generate, ending with --period")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (same seed, same data)")
    parser.add_argument("--period", default="2026-10", help="the period to close, YYYY-MM")
    parser.add_argument("--workdir", default=str(ROOT / "data" / "bench"),
                        help="where generated data and warehouses go (one folder per size)")
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 8GB")
    parser.add_argument("--skip", action="append", default=[], choices=PHASES,
                        help="phase to skip; repeatable")
    parser.add_argument("--no-record", action="store_true", help="do not append to docs")
    parser.add_argument("--record", action="store_true", help="append to docs even with --quick")
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke: 100k events, 500 entities, no docs append")
    parser.add_argument("--pdf-limit", type=int, default=200, help="invoices to render")
    parser.add_argument("--reuse", action="store_true",
                        help="keep an already generated raw folder of the same size")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    parser.add_argument("--raw", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        args.events = args.events[0] if args.events else 0
        print(json.dumps(worker(args.worker, args)))
        return

    if args.quick:
        args.events = args.events or [100_000]
        args.no_record = not args.record
        args.pdf_limit = min(args.pdf_limit, 20)
    sizes = args.events or [1_000_000]
    rows = []
    for size in sizes:
        work = Path(args.workdir) / f"{size}"
        reuse = args.reuse and (work / "raw").is_dir()
        if reuse:
            for stale in work.glob("w*"):
                shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        else:
            shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        ns = argparse.Namespace(**vars(args))
        ns.events, ns.raw, ns.warehouse = size, str(work / "raw"), str(work / "w.duckdb")
        ns.entities = min(args.entities, max(10, size // 200))
        for phase in PHASES:
            if phase in args.skip or (phase == "generate" and reuse):
                continue
            figures = run_phase(phase, ns)
            figures["events"] = size
            figures["events_per_s"] = size / figures["seconds"] if figures["seconds"] else 0
            rows.append(figures)
            print(_format_row(figures), flush=True)
    _summarise(rows, args)


def _format_row(r: dict) -> str:
    extra = {k: v for k, v in r.items() if k not in {"phase", "seconds", "rss_mb", "events",
                                                       "events_per_s"}}
    return (
        f"{r['events']:>12,} {r['phase']:<9} {r['seconds']:>9.2f} s "
        f"{r['events_per_s']:>14,.0f} ev/s {r['rss_mb']:>9,.0f} MB  {json.dumps(extra)}"
    )


def _summarise(rows: list[dict], args: argparse.Namespace) -> None:
    by = {(r["events"], r["phase"]): r for r in rows}
    ratios = []
    for size in sorted({r["events"] for r in rows}):
        close, floor = by.get((size, "close")), by.get((size, "floor"))
        if close and floor:
            rating = close.get("phases", {}).get("rating", close["seconds"])
            ratios.append(f"{size:,} events: rating {rating:.2f} s = "
                          f"{rating / floor['seconds']:.1f}x the floor ({floor['seconds']:.2f} s)")
    for line in ratios:
        print(line)
    if args.no_record:
        return
    doc = ROOT / "docs" / "benchmarks.md"
    machine = (
        f"{platform.node()} · {platform.machine()} · {os.cpu_count()} cores · "
        f"Python {platform.python_version()}"
    )
    lines = [
        f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n",
        f"Machine: {machine}  ",
        f"Command: `python bench/run.py {' '.join(sys.argv[1:])}`\n",
        "| events | phase | seconds | events/s | peak RSS MB | notes |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for r in rows:
        notes = {k: v for k, v in r.items()
                 if k not in {"phase", "seconds", "rss_mb", "events", "events_per_s"}}
        lines.append(
            f"| {r['events']:,} | {r['phase']} | {r['seconds']:.2f} | "
            f"{r['events_per_s']:,.0f} | {r['rss_mb']:,.0f} | {json.dumps(notes)} |"
        )
    lines += [f"\n{line}  " for line in ratios]
    if not doc.exists():
        doc.write_text(
            "# Benchmarks\n\nFigures appended by `bench/run.py` (newest last). The floor is one "
            "hand-written DuckDB query over the same events that aggregates per entity and "
            "price and applies graduated tiers: the least work any correct close must do.\n"
        )
    with doc.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
