"""The DuckDB warehouse file: connecting, and the tables Python owns.

dbt owns the models (staging, intermediate, marts). Python owns three kinds of state that dbt
reads as sources and never rebuilds:

* ``raw.*``          — every raw row as given (all VARCHAR), with the file it came from;
* ``billing.*``      — what a close issued: finalized invoices and lines, period closes, runs;
* ``main.webhook_outbox`` — webhooks recorded before any attempt to send them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

#: Contract columns of every raw table, in the contract's order. All are stored as VARCHAR.
RAW_TABLES: dict[str, tuple[str, ...]] = {
    "organizations": ("organization_id", "name"),
    "entities": (
        "entity_id", "organization_id", "name", "currency", "timezone", "country",
        "billing_email", "address", "tax_rate", "credits_low_threshold",
    ),
    "teams": ("team_id", "entity_id", "name"),
    "users": ("user_id", "name", "email"),
    "entity_users": ("entity_id", "user_id", "team_id", "credit_limit"),
    "plans": ("plan_id", "name", "currency", "seat_price", "proration"),
    "event_prices": (
        "price_id", "event_type", "currency", "model", "tier_from", "tier_to", "unit_price",
        "flat_fee", "package_size", "percent", "min_fee", "max_fee", "valid_from", "valid_to",
    ),
    "subscription_changes": ("change_id", "entity_id", "plan_id", "seats", "effective_at"),
    "credit_purchases": (
        "purchase_id", "entity_id", "credits", "price", "purchased_at", "expires_at",
    ),
    "marketplace_events": (
        "event_id", "entity_id", "user_id", "event_type", "occurred_at", "quantity", "amount",
    ),
    "payments": ("payment_id", "invoice_number", "amount", "status", "attempted_at"),
}
#: Tables a raw folder may omit.
OPTIONAL_TABLES = frozenset({"marketplace_events", "payments"})

_BOOTSTRAP = [
    "create schema if not exists raw",
    "create schema if not exists billing",
    """create table if not exists raw.load_runs (
        load_id integer primary key,
        raw_dir varchar not null,
        started_at timestamptz not null,
        finished_at timestamptz,
        files_new integer, files_changed integer, files_removed integer,
        rows_loaded bigint
    )""",
    # One row per version of a file: a changed file gets a new file_id, the old one goes inactive.
    """create table if not exists raw.source_files (
        file_id integer primary key,
        raw_dir varchar not null,
        rel_path varchar not null,
        table_name varchar not null,
        sha256 varchar not null,
        size_bytes bigint not null,
        row_count bigint not null,
        first_load_id integer not null,   -- load that first saw this path (orders 'first loaded')
        load_id integer not null,         -- load that read this version
        is_active boolean not null,
        retracted_load_id integer
    )""",
    """create table if not exists billing.period_closes (
        period varchar primary key,
        close_run_id varchar not null,
        closed_at timestamptz not null
    )""",
    """create table if not exists billing.close_runs (
        close_run_id varchar primary key,
        period varchar not null,
        started_at timestamptz not null,
        finished_at timestamptz,
        status varchar not null,          -- running, finalized, draft, failed, aborted (killed)
        input_fingerprint varchar,
        price_book_version varchar,
        phases json
    )""",
    """create table if not exists billing.issued_invoices (
        invoice_id varchar primary key,
        invoice_number varchar not null unique,
        invoice_seq integer not null,
        entity_id varchar not null,
        organization_id varchar not null,
        period varchar not null,
        currency varchar not null,
        subtotal decimal(38,4) not null,
        credits_applied decimal(38,4) not null,
        tax decimal(38,4) not null,
        total decimal(38,4) not null,
        tax_rate decimal(38,12),
        issued_at timestamptz not null,
        due_at timestamptz not null,
        close_run_id varchar not null,
        input_fingerprint varchar not null,
        price_book_version varchar not null,
        pdf_path varchar,
        pdf_sha256 varchar,
        unique (entity_id, invoice_seq),
        unique (entity_id, period)
    )""",
    # Who an issued invoice is billed to, as the entity stood at finalization: a PDF drawn
    # later (`billing render` after `close --skip-pdf`) shows the invoice as it was issued.
    """create table if not exists billing.issued_bill_to (
        invoice_id varchar primary key,
        entity_name varchar,
        address varchar,
        billing_email varchar,
        country varchar,
        timezone varchar
    )""",
    """create table if not exists billing.issued_invoice_lines (
        invoice_id varchar not null,
        line_number integer not null,
        entity_id varchar not null,
        period varchar not null,
        line_type varchar not null,
        line_key varchar not null,
        description varchar not null,
        price_id varchar,
        plan_id varchar,
        quantity decimal(38,4),
        unit_price decimal(38,12),
        amount decimal(38,4) not null,
        service_start timestamptz,
        service_end timestamptz,
        original_period varchar,
        primary key (invoice_id, line_number)
    )""",
    """create table if not exists main.webhook_outbox (
        webhook_id varchar primary key,
        dedup_key varchar not null unique,
        event_type varchar not null,
        entity_id varchar not null,
        organization_id varchar,
        user_id varchar,
        payload varchar not null,
        status varchar not null default 'pending',
        attempts integer not null default 0,
        next_attempt_at timestamptz not null,
        last_status_code integer,
        last_error varchar,
        created_at timestamptz not null,
        delivered_at timestamptz,
        close_run_id varchar
    )""",
]


def _create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in RAW_TABLES.items():
        cols = ", ".join(f'"{c}" varchar' for c in columns)
        con.execute(
            f"create table if not exists raw.{table} ({cols}, "
            "_file_id integer not null, _row_number bigint not null)"
        )


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file (creating it and its Python-owned tables when new)."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set timezone = 'UTC'")
    if not read_only:
        bootstrap(con)
    return con


def bootstrap(con: duckdb.DuckDBPyConnection) -> None:
    """Create the Python-owned schemas and tables if they are missing (idempotent)."""
    for stmt in _BOOTSTRAP:
        con.execute(stmt)
    _create_raw_tables(con)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: commit on success, roll back on any exception."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    else:
        con.execute("commit")
