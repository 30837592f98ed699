"""Finalizing a period: numbering, storing invoices as issued, recording the close.

The dbt marts ``invoices`` and ``invoice_lines`` are views: for open periods they show drafts
computed from everything known now; for closed periods they show what ``billing.issued_*``
stores. Finalizing copies a period's drafts into ``billing.issued_*`` in one transaction, with
gapless per-entity numbers, and marks the period closed. Nothing here is ever updated later,
except the PDF path and hash, which are set once when the PDF is first written.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from billing.errors import CloseError
from billing.faults import crash_point
from billing.warehouse import transaction

PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: Days after issue an invoice falls due (and, unpaid, triggers billing.suspension).
PAYMENT_TERMS_DAYS = 30


MEMORY_LIMIT_RE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)\s*$", re.I)


def check_memory_limit(limit: str) -> str:
    """A DuckDB memory_limit: a size such as 12GB or 500MiB, or a share of RAM such as 70%."""
    if not MEMORY_LIMIT_RE.match(limit or ""):
        raise CloseError(
            f"memory limit must be a size like 12GB or 512MiB, or a share of RAM like 70%, "
            f"got {limit!r}"
        )
    return limit.strip()


def check_period(period: str) -> str:
    if not PERIOD_RE.match(period or ""):
        raise CloseError(f"period must look like YYYY-MM (e.g. 2026-10), got {period!r}")
    return period


def check_something_loaded(con: duckdb.DuckDBPyConnection, warehouse: object) -> None:
    """A close needs loaded raw files: a warehouse left empty by a failed first load would
    otherwise close the month with no invoices, and its usage would later become adjustments."""
    loaded = con.execute(
        "select count(*) from raw.source_files where is_active and table_name = 'entities'"
    ).fetchone()[0]
    if not loaded:
        raise CloseError(
            f"nothing is loaded in warehouse {warehouse}: load a raw folder first "
            f"(billing load --raw-dir DIR, or close with --raw-dir)"
        )


def check_period_ended(con: duckdb.DuckDBPyConnection, period: str, as_of: datetime) -> None:
    """Refuse to finalize a period that has not ended, in every entity's timezone, by ``as_of``.

    Seats are billed in arrears and a finalized invoice never changes, so a month still running
    (or still to come) can be shown as a draft but not closed. The period must have ended for
    the entity whose local midnight comes last: its end is read from the build that just ran
    (`int_billing_periods.period_end`, one row per entity with anything to bill), so the check
    uses the very boundaries the models rated with (DuckDB's time-zone data, the first instant
    of a midnight that happens twice). With no such entity: midnight UTC.
    """
    row = con.execute(
        """
        select period_end, entity_id, timezone from intermediate.int_billing_periods
        where period = ? order by period_end desc, entity_id limit 1
        """,
        [period],
    ).fetchone()
    if row is None:
        year, month = map(int, period.split("-"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        row = (datetime(year, month, 1, tzinfo=UTC), None, "UTC")
    end, entity_id, tz = row
    end = end.astimezone(UTC)
    if as_of < end:
        whose = f" for entity {entity_id} ({tz})" if entity_id else ""
        raise CloseError(
            f"period {period} has not ended yet: it ends at {end:%Y-%m-%dT%H:%M:%SZ}{whose}, "
            f"after the close's as-of {as_of:%Y-%m-%dT%H:%M:%SZ}; nothing was finalized "
            f"(--draft shows its draft invoices)"
        )


@dataclass
class ClosedPeriod:
    period: str
    close_run_id: str
    invoice_ids: list[str] = field(default_factory=list)
    already_closed: bool = False


def last_closed_period(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("select max(period) from billing.period_closes").fetchone()
    return row[0] if row else None


def open_periods_through(con: duckdb.DuckDBPyConnection, period: str) -> list[str]:
    """Open periods up to ``period`` that have draft invoices, plus ``period`` itself."""
    last = last_closed_period(con)
    rows = con.execute(
        """
        select distinct period from main.invoices
        where status = 'draft' and period <= ? and (? is null or period > ?)
        order by period
        """,
        [period, last, last],
    ).fetchall()
    periods = [r[0] for r in rows]
    if period not in periods and (last is None or period > last):
        periods.append(period)
    return sorted(periods)


def input_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """SHA-256 over the active raw files (path and content hash): what the close was fed."""
    rows = con.execute(
        """
        select raw_dir, rel_path, sha256 from raw.source_files
        where is_active order by raw_dir, rel_path
        """
    ).fetchall()
    digest = hashlib.sha256()
    for raw_dir, rel_path, sha in rows:
        digest.update(f"{raw_dir}\0{rel_path}\0{sha}\n".encode())
    return digest.hexdigest()


def price_book_version(con: duckdb.DuckDBPyConnection) -> str:
    """A short content hash of the price book and plans in force."""
    digest = hashlib.sha256()
    for table in ("staging.stg_event_prices", "staging.stg_plans"):
        rows = con.execute(f"select * from {table} order by all").fetchall()
        for row in rows:
            digest.update(repr(tuple(str(v) for v in row)).encode())
    return "pb-" + digest.hexdigest()[:12]


def start_close_run(con: duckdb.DuckDBPyConnection, period: str, *, draft: bool) -> str:
    run_id = f"close-{period}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    # a run still 'running' was killed (one command at a time holds the warehouse: billing.lock);
    # what it finalized stands, and this run finishes the rest
    con.execute(
        "update billing.close_runs set status = 'aborted' "
        "where status = 'running' and finished_at is null"
    )
    con.execute(
        "insert into billing.close_runs (close_run_id, period, started_at, status) "
        "values (?, ?, now(), ?)",
        [run_id, period, "draft" if draft else "running"],
    )
    return run_id


def finish_close_run(
    con: duckdb.DuckDBPyConnection, run_id: str, status: str, phases: dict[str, float]
) -> None:
    import json

    con.execute(
        "update billing.close_runs set finished_at = now(), status = ?, phases = ? "
        "where close_run_id = ?",
        [status, json.dumps({k: round(v, 3) for k, v in phases.items()}), run_id],
    )


def finalize_period(
    con: duckdb.DuckDBPyConnection,
    period: str,
    *,
    close_run_id: str,
    issued_at: datetime,
    on_finalized=None,
) -> ClosedPeriod:
    """Finalize the drafts of ``period`` in one transaction and mark the period closed.

    ``on_finalized(con, invoice_ids)`` runs inside the same transaction (the webhook outbox
    rows for ``invoice.finalized`` are written there, so they exist exactly when the
    invoices do). A period that is already closed is left as it is.
    """
    check_period(period)
    last = last_closed_period(con)
    if last is not None and period <= last:
        return ClosedPeriod(period, close_run_id, already_closed=True)
    fingerprint = input_fingerprint(con)
    version = price_book_version(con)
    due_at = issued_at + timedelta(days=PAYMENT_TERMS_DAYS)
    with transaction(con):
        drafts = con.execute(
            """
            select invoice_id, entity_id from main.invoices
            where status = 'draft' and period = ? order by entity_id
            """,
            [period],
        ).fetchall()
        invoice_ids = [r[0] for r in drafts]
        con.execute(
            """
            insert into billing.issued_invoices (
                invoice_id, invoice_number, invoice_seq, entity_id, organization_id, period,
                currency, subtotal, credits_applied, tax, total, tax_rate, issued_at, due_at,
                close_run_id, input_fingerprint, price_book_version)
            with drafts as (
                select * from main.invoices where status = 'draft' and period = $period
            ),
            last_numbers as (
                select entity_id, max(invoice_seq) as last_seq
                from billing.issued_invoices group by entity_id
            ),
            numbered as (
                select d.*, coalesce(n.last_seq, 0) + 1 as invoice_seq
                from drafts d left join last_numbers n using (entity_id)
            )
            select invoice_id, entity_id || '-' || lpad(invoice_seq::varchar, 6, '0'),
                   invoice_seq, entity_id, organization_id, period, currency, subtotal,
                   credits_applied, tax, total, tax_rate, $issued_at, $due_at, $run,
                   $fingerprint, $version
            from numbered
            """,
            {
                "period": period,
                "issued_at": issued_at,
                "due_at": due_at,
                "run": close_run_id,
                "fingerprint": fingerprint,
                "version": version,
            },
        )
        con.execute(
            """
            insert into billing.issued_invoice_lines (
                invoice_id, line_number, entity_id, period, line_type, line_key, description,
                price_id, plan_id, quantity, unit_price, amount, service_start, service_end,
                original_period)
            select invoice_id, line_number, entity_id, period, line_type, line_key,
                   description, price_id, plan_id, quantity, unit_price, amount,
                   service_start, service_end, original_period
            from main.invoice_lines where status = 'draft' and period = ?
            """,
            [period],
        )
        con.execute(
            """
            insert into billing.issued_bill_to (
                invoice_id, entity_name, address, billing_email, country, timezone)
            select i.invoice_id, e.entity_name, e.address, e.billing_email, e.country,
                   e.timezone
            from billing.issued_invoices as i
            inner join staging.stg_entities as e on e.entity_id = i.entity_id
            where i.period = ? and i.close_run_id = ?
            """,
            [period, close_run_id],
        )
        con.execute(
            "insert into billing.period_closes (period, close_run_id, closed_at) "
            "values (?, ?, ?)",
            [period, close_run_id, issued_at],
        )
        con.execute(
            "update billing.close_runs set input_fingerprint = ?, price_book_version = ? "
            "where close_run_id = ?",
            [fingerprint, version, close_run_id],
        )
        if on_finalized is not None:
            on_finalized(con, invoice_ids)
        crash_point("finalize")
    return ClosedPeriod(period, close_run_id, invoice_ids=invoice_ids)


def periods_missing_pdfs(con: duckdb.DuckDBPyConnection, through: str) -> list[str]:
    """Closed periods up to ``through`` with finalized invoices that have no PDF yet."""
    rows = con.execute(
        "select distinct period from billing.issued_invoices "
        "where pdf_path is null and period <= ? order by period",
        [through],
    ).fetchall()
    return [r[0] for r in rows]


def invoices_without_pdf(con: duckdb.DuckDBPyConnection, period: str) -> list[str]:
    rows = con.execute(
        """
        select invoice_id from billing.issued_invoices
        where period = ? and pdf_path is null order by invoice_number
        """,
        [period],
    ).fetchall()
    return [r[0] for r in rows]


def record_pdfs(con: duckdb.DuckDBPyConnection, results: list[tuple[str, str, str]]) -> None:
    """Store (invoice_id, pdf_path, sha256) once: an issued PDF is never replaced."""
    if not results:
        return
    with transaction(con):
        con.executemany(
            """
            update billing.issued_invoices set pdf_path = ?, pdf_sha256 = ?
            where invoice_id = ? and pdf_path is null
            """,
            [(path, sha, invoice_id) for invoice_id, path, sha in results],
        )


def enqueue_finalized(con: duckdb.DuckDBPyConnection, invoice_ids: list[str]) -> int:
    """Record one ``invoice.finalized`` webhook per invoice (inside the finalizing transaction)."""
    from billing.webhooks.outbox import OutboxRow, enqueue

    if not invoice_ids:
        return 0
    rows = con.execute(
        """
        select i.invoice_id, i.invoice_number, i.entity_id, e.entity_name, i.organization_id,
               o.organization_name, i.period, i.currency, i.subtotal, i.credits_applied,
               i.tax, i.total, i.issued_at, i.due_at, i.close_run_id
        from billing.issued_invoices i
        join staging.stg_entities e using (entity_id)
        left join staging.stg_organizations o on o.organization_id = i.organization_id
        where list_contains($ids, i.invoice_id)
        order by i.invoice_number
        """,
        {"ids": invoice_ids},
    ).fetchall()
    hooks = []
    for (invoice_id, number, entity_id, entity_name, org_id, org_name, period, currency,
         subtotal, credits, tax, total, issued_at, due_at, _run) in rows:
        facts = {
            "occurred_at": issued_at, "entity_id": entity_id, "entity_name": entity_name,
            "organization_id": org_id, "organization_name": org_name,
            "invoice_id": invoice_id, "invoice_number": number, "period": period,
            "currency": currency, "subtotal": subtotal, "credits_applied": credits,
            "tax": tax, "total": total, "issued_at": issued_at, "due_at": due_at,
        }
        hooks.append(
            OutboxRow(f"invoice.finalized:{invoice_id}", "invoice.finalized", entity_id,
                      org_id, None, facts)
        )
    return enqueue(
        con, hooks, now=rows[0][12] if rows else None, close_run_id=rows[0][14] if rows else None
    )
