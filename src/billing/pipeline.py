"""The steps the flows run, as plain functions over a warehouse path.

Each step opens the warehouse, does one job and closes it again, so that dbt (which opens the
same file) never meets a second writer. Prefect flows in ``flows/`` wrap these as tasks; tests
call them directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from billing import close as closing
from billing import warehouse as wh
from billing.errors import BillingError
from billing.faults import crash_after, crash_point
from billing.paths import pdf_dir


@contextmanager
def opened(
    warehouse: Path | str, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    try:
        con = wh.connect(warehouse, read_only=read_only)
    except duckdb.IOException as exc:
        raise BillingError(f"cannot open warehouse {warehouse}: {exc}") from exc
    try:
        yield con
    finally:
        con.close()


@dataclass
class Timer:
    """Wall time per named phase, for the close summary."""

    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - start


def parse_as_of(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BillingError(f"--as-of must be an ISO-8601 instant, got {value!r}") from exc
    if parsed.tzinfo is None:
        raise BillingError(f"--as-of needs an offset or Z (e.g. {value}Z), got {value!r}")
    return parsed.astimezone(UTC)


#: How far ahead of this machine's clock --as-of may be (clock skew between machines).
AS_OF_SKEW = timedelta(minutes=5)


def check_as_of_not_future(when: datetime, *, draft: bool) -> None:
    """A close finalizes what has happened: issued_at, suspensions 30 days after issue and the
    webhooks' due times all follow --as-of, so an as-of in the future would finalize a month
    that has not ended and announce a suspension that is not due. A draft may look ahead."""
    now = datetime.now(UTC)
    if not draft and when > now + AS_OF_SKEW:
        raise BillingError(
            f"--as-of {when.isoformat().replace('+00:00', 'Z')} is in the future (it is "
            f"{now.replace(microsecond=0).isoformat().replace('+00:00', 'Z')} here): a close "
            "finalizes what has happened; use --draft to look ahead"
        )


def load(warehouse: Path | str, raw_dir: Path | str, progress: Callable | None = None):
    from billing.inputs.load import load_raw_dir

    raw = Path(raw_dir)
    if not raw.is_dir():
        raise BillingError(f"raw folder {raw} does not exist or is not a folder")
    def on_file(outcome) -> None:
        crash_point("load")  # mid-load, inside the load's transaction
        if progress is not None:
            progress(outcome)

    with opened(warehouse) as con:
        return load_raw_dir(con, raw, progress=on_file)


#: What staging does right after a load: parse the new raw event rows, once (the model is
#: incremental; the close's build runs it too, and then finds nothing new), and (re)create the
#: staging views, so what was loaded can be queried at once.
STAGE_EVENTS = ["run", "--select", "path:models/staging"]


def stage(warehouse: Path | str, *, quiet: bool = True):
    """Parse the event rows the last load added (``base_marketplace_events``); staging views.

    A close would do it anyway; doing it at load spreads the work (loads run through the month,
    closes once) and keeps the close's time for rating.
    """
    from billing.dbt import run_dbt

    return run_dbt(STAGE_EVENTS, warehouse, quiet=quiet)


#: What a close builds: every model and seed, and the singular reconciliation tests that tie
#: staging to rated events, lines, invoices and the credit ledger (a failure stops the close
#: before anything is finalized). Unit tests and generic schema tests check the code, not the
#: data: CI runs them (`make test`).
CLOSE_BUILD = ["build", "--exclude", "resource_type:unit_test", "test_type:generic"]


def build(warehouse: Path | str, *, through_period: str, as_of: datetime, quiet: bool = False):
    """Run the dbt models and the reconciliation tests as of ``as_of``."""
    from billing.dbt import run_dbt

    dbt_vars = {"through_period": through_period, "as_of": as_of.isoformat()}
    crash_after("dbt", 1.0)
    return run_dbt(CLOSE_BUILD, warehouse, vars=dbt_vars, quiet=quiet)


def check_something_loaded(warehouse: Path | str) -> None:
    with opened(warehouse) as con:
        closing.check_something_loaded(con, warehouse)


def check_period_ended(warehouse: Path | str, period: str, *, as_of: datetime) -> None:
    with opened(warehouse) as con:
        closing.check_period_ended(con, period, as_of)


def start_run(warehouse: Path | str, period: str) -> str:
    with opened(warehouse) as con:
        return closing.start_close_run(con, period, draft=False)


def finish_run(
    warehouse: Path | str, close_run_id: str, phases: dict[str, float],
    status: str = "finalized",
) -> None:
    with opened(warehouse) as con:
        closing.finish_close_run(con, close_run_id, status, phases)


def periods_missing_pdfs(warehouse: Path | str, through: str) -> list[str]:
    with opened(warehouse) as con:
        return closing.periods_missing_pdfs(con, through)


def periods_to_close(warehouse: Path | str, period: str) -> list[str]:
    with opened(warehouse) as con:
        return closing.open_periods_through(con, period)


def finalize(
    warehouse: Path | str, period: str, *, close_run_id: str, issued_at: datetime
) -> closing.ClosedPeriod:
    with opened(warehouse) as con:
        return closing.finalize_period(
            con,
            period,
            close_run_id=close_run_id,
            issued_at=issued_at,
            on_finalized=closing.enqueue_finalized,
        )


def queue_webhooks(
    warehouse: Path | str, *, as_of: datetime, close_run_id: str | None = None
) -> int:
    """Record every detected webhook not yet in the outbox (tagged with the close run that found
    it, as its invoice.finalized rows are); returns how many were added."""
    from billing.webhooks.outbox import queue_from_triggers

    with opened(warehouse) as con:
        return queue_from_triggers(con, as_of=as_of, close_run_id=close_run_id)


def queue_payment_webhooks(warehouse: Path | str) -> int:
    """After a load: queue now what the loaded payments trigger by themselves (a failed payment
    of an issued invoice, the third failure's suspension), so the permission system hears of
    them without waiting for the next close."""
    from billing.webhooks.outbox import queue_from_triggers

    with opened(warehouse) as con:
        return queue_from_triggers(con, as_of=datetime.now(UTC), payments_only=True)


def render(
    warehouse: Path | str, period: str, *, progress: bool = True, workers: int | None = None
) -> list:
    """Render the PDFs of the period's finalized invoices that have none yet."""
    from billing.pdf.load import load_invoice_docs
    from billing.pdf.manifest import write_manifest
    from billing.pdf.render import render_many

    out_dir = pdf_dir(Path(warehouse), period)
    with opened(warehouse) as con:
        todo = closing.invoices_without_pdf(con, period)
        if not todo:
            return []
        docs = load_invoice_docs(con, todo)
    results = render_many(docs, out_dir, workers=workers, progress=progress)
    crash_point("pdf")
    write_manifest(out_dir, period, results)
    with opened(warehouse) as con:
        closing.record_pdfs(con, [(r.invoice_id, str(r.path), r.sha256) for r in results])
    return results


def check_issued_pdfs(
    warehouse: Path | str, period: str, *, workers: int | None = None
):
    """The period's issued PDFs against their recorded sha256; a lost one drawn again and put
    back only if byte-identical (``billing.pdf.issued``)."""
    from billing.pdf.issued import check_issued_pdfs as check

    with opened(warehouse) as con:
        issued = con.execute(
            """
            select invoice_id, invoice_number, pdf_path, pdf_sha256 from billing.issued_invoices
            where period = ? and pdf_path is not null order by invoice_number
            """,
            [period],
        ).fetchall()

    def load_docs(invoice_ids: list[str]) -> list:
        from billing.pdf.load import load_invoice_docs

        with opened(warehouse) as con:
            return load_invoice_docs(con, invoice_ids)

    return check(issued, load_docs, pdf_dir(Path(warehouse), period), workers=workers)


DEMO_MARKER = ".billing-demo"


def reset_demo_warehouse(warehouse: Path | str, *, default: bool) -> None:
    """The demo builds a fresh warehouse each time: the previous demo's warehouse, its PDFs and
    outbox dumps are removed first, so a second run never mixes with the first. A warehouse the
    demo did not make (no marker beside it) is never touched, unless it is the default demo path.
    """
    import shutil

    from billing.paths import warehouse_home

    path = Path(warehouse)
    home = warehouse_home(path)
    if path.exists() and not default and not (home / DEMO_MARKER).exists():
        raise BillingError(
            f"{path} already exists and was not made by billing demo: the demo builds a fresh "
            "warehouse, choose another --warehouse"
        )
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    for folder in (home, path.with_name(path.name + ".tmp")):
        shutil.rmtree(folder, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    (home / DEMO_MARKER).write_text("made by billing demo: the next demo run replaces it\n")


def generate(out_dir: Path | str, **options):
    from billing.generate import generate as make_raw_folder

    return make_raw_folder(Path(out_dir), **options)


def deliver(warehouse: Path | str, **options):
    from billing.webhooks.deliver import deliver as send_pending

    with opened(warehouse) as con:
        return send_pending(con, **options)

