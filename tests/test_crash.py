"""Crash safety with real kills: the close process is SIGKILLed at a named point (load, dbt,
finalization, PDF writes), then run again; the result must equal an uninterrupted close."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "raw_basic"
AS_OF = "2026-11-15T00:00:00Z"
CLOSE = (
    "import sys; from flows.close import run_close; "
    "run_close(sys.argv[1], '2026-10', raw_dir=sys.argv[2], as_of=sys.argv[3], progress=False)"
)


def run_close_process(warehouse: Path, raw: Path, crash_at: str | None) -> int:
    env = dict(os.environ)
    env.pop("BILLING_CRASH_AT", None)
    if crash_at:
        env["BILLING_CRASH_AT"] = crash_at
    proc = subprocess.run(
        [sys.executable, "-c", CLOSE, str(warehouse), str(raw), AS_OF],
        env=env, capture_output=True, text=True, timeout=600,
    )
    if crash_at is None:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.returncode


def outcome(warehouse: Path) -> dict:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            "invoices": con.execute(
                "select invoice_number, period, subtotal, tax, total, pdf_sha256 "
                "from billing.issued_invoices order by invoice_number"
            ).fetchall(),
            "lines": con.execute(
                "select i.invoice_number, l.line_number, l.line_key, l.amount "
                "from billing.issued_invoice_lines l join billing.issued_invoices i "
                "using (invoice_id) order by all"
            ).fetchall(),
            "outbox": con.execute(
                "select dedup_key, event_type from webhook_outbox order by all"
            ).fetchall(),
            "closes": con.execute(
                "select period from billing.period_closes order by all"
            ).fetchall(),
            "rows": con.execute("select count(*) from raw.marketplace_events").fetchall(),
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("reference")
    raw = tmp / "raw"
    shutil.copytree(FIXTURE, raw)
    run_close_process(tmp / "w.duckdb", raw, None)
    return outcome(tmp / "w.duckdb")


@pytest.mark.parametrize("point", ["load", "dbt", "finalize", "pdf"])
def test_kill_then_rerun_gives_the_same_result(point, reference, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURE, raw)
    warehouse = tmp_path / "w.duckdb"
    code = run_close_process(warehouse, raw, point)
    assert code == -9, f"the process was meant to be killed at {point}"
    run_close_process(warehouse, raw, None)
    assert outcome(warehouse) == reference
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".part"))]
    assert leftovers == []
    # the killed run's audit row says it did not finish; the rerun's says it did
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        statuses = [r[0] for r in con.execute(
            "select status from billing.close_runs order by started_at").fetchall()]
    finally:
        con.close()
    if point in ("finalize", "pdf"):  # killed after the run started
        assert statuses == ["aborted", "finalized"]
    else:
        assert statuses == ["finalized"]
