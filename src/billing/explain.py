"""`billing explain --invoice NUMBER`: an invoice's lines and what is behind each one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from billing.errors import BillingError
from billing.money import format_money, format_quantity, format_unit_price

#: How many events to list under one usage line before summarising the rest.
MAX_EVENTS_SHOWN = 20


def _at(value: object) -> str:
    """An instant as UTC to the second (the warehouse keeps instants in UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def _exact(value: object, currency: str) -> str:
    """An unrounded amount: the currency's decimals, more only where the value has them."""
    return "" if value is None else format_unit_price(value, currency)


def explain_invoice(console: Console, warehouse: Path | str, invoice_number: str) -> None:
    if not Path(warehouse).exists():
        raise BillingError(f"warehouse {warehouse} does not exist")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        _explain(console, con, invoice_number)
    finally:
        con.close()


def _explain(console: Console, con: duckdb.DuckDBPyConnection, number: str) -> None:
    built = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'main' and table_name in ('invoices', 'invoice_lines')"
    ).fetchone()[0]
    if built < 2:
        raise BillingError(
            "this warehouse has no invoices yet: run billing close --period YYYY-MM "
            "(--draft to change nothing) first"
        )
    head = con.execute(
        """
        select i.invoice_id, i.entity_id, i.period, i.currency, i.status, i.subtotal, i.tax,
               i.total, i.issued_at, i.pdf_path, r.close_run_id, r.input_fingerprint,
               r.price_book_version
        from main.invoices i
        left join billing.issued_invoices r using (invoice_id)
        where i.invoice_number = ?
        """,
        [number],
    ).fetchone()
    if head is None:
        by_id = con.execute(
            "select invoice_number, status from main.invoices where invoice_id = ?", [number]
        ).fetchone()
        if by_id is not None and by_id[0] is not None:
            raise BillingError(f"{number!r} is an invoice id: its number is {by_id[0]}")
        if by_id is not None:
            raise BillingError(f"{number!r} is a draft: drafts have no number to explain yet")
        raise BillingError(f"no invoice numbered {number!r} (drafts have no number yet)")
    (invoice_id, entity_id, period, currency, status, subtotal, tax, total, issued_at,
     pdf_path, run_id, fingerprint, price_book) = head
    console.print(f"[bold]Invoice {number}[/bold]  {entity_id}  period {period}  {status}")
    console.print(f"  issued {_at(issued_at)} UTC by close run {run_id}", soft_wrap=True)
    console.print(f"  price book {price_book}")
    console.print(f"  input fingerprint {fingerprint}", soft_wrap=True)
    if pdf_path:
        console.print(f"  PDF {pdf_path}", soft_wrap=True)
    elif status == "finalized":
        console.print(f"  PDF not rendered yet (billing render --period {period})")
    if status == "finalized":
        console.print(
            "  The evidence under each line is the warehouse as computed now: rows loaded "
            "after the invoice was issued show there too, and are billed by adjustment lines "
            "on a later invoice.",
            highlight=False,
        )
    lines = con.execute(
        """
        select line_number, line_type, line_key, description, quantity, amount,
               original_period, service_start, service_end, plan_id
        from main.invoice_lines where invoice_id = ? order by line_number
        """,
        [invoice_id],
    ).fetchall()
    for (line_no, line_type, key, description, quantity, amount, original, start, end,
         plan_id) in lines:
        console.print(
            f"\n[bold]{line_no}. {description}[/bold]  {format_money(amount, currency)}",
            highlight=False,
        )
        evidence_period = original or period
        if line_type == "usage":
            _usage_evidence(console, con, entity_id, evidence_period, key, currency)
        elif line_type == "seat":
            _seat_evidence(console, con, entity_id, start, end, plan_id, quantity)
        elif line_type in ("credits_applied", "credit_purchase"):
            _ledger_evidence(console, con, entity_id, evidence_period, line_type, key, currency)
        elif line_type == "adjustment":
            console.print(
                f"   restates {original}: the line as computed now differs from what was "
                "issued; evidence as computed now:"
            )
            # adjustment|<original period>|<the restated line's own key>
            base = key.split("|", 2)[2] if key.startswith("adjustment|") else key
            kind = base.split("|", 1)[0]
            if kind == "usage":
                _usage_evidence(console, con, entity_id, original, base, currency)
            elif kind == "seat" and start is not None and end is not None:
                _seat_evidence(console, con, entity_id, start, end, plan_id,
                               int(base.split("|")[2]))
            elif kind in ("credits_applied", "credit_purchase"):
                _ledger_evidence(console, con, entity_id, original, kind, base, currency)
    console.print(
        f"\nsubtotal {format_money(subtotal, currency)}  tax {format_money(tax, currency)}  "
        f"total {format_money(total, currency)}",
        highlight=False,
    )


def _usage_evidence(console, con, entity_id, period, key, currency) -> None:
    parts = key.split("|")
    if len(parts) < 4:
        return
    _, price_id, valid_from, tier_from = parts[:4]
    rows = con.execute(
        """
        select r.event_id, r.user_id, r.occurred_at, r.quantity, r.amount
        from intermediate.int_rated_events r
        left join intermediate.int_price_tiers t
            on t.price_id = r.price_id and t.valid_from = r.price_valid_from
            and cast(t.tier_from as varchar) = ?
        where r.entity_id = ? and r.period = ? and r.price_id = ?
          and cast(r.price_valid_from as varchar) = ?
          -- a graduated tier line: the events whose units reach into the tier
          and (t.model <> 'graduated'
               or (r.units_before + r.quantity > t.tier_from
                   and (t.tier_to is null or r.units_before < t.tier_to)))
        order by r.occurred_at, r.event_id
        """,
        [tier_from, entity_id, period, price_id, valid_from],
    ).fetchall()
    table = Table("event", "user", "occurred at (UTC)", "quantity", "event amount",
                  show_edge=False)
    for event_id, user_id, occurred_at, quantity, amount in rows[:MAX_EVENTS_SHOWN]:
        table.add_row(event_id, user_id, _at(occurred_at), format_quantity(quantity),
                      _exact(amount, currency))
    console.print(table)
    if len(rows) > MAX_EVENTS_SHOWN:
        console.print(f"   … and {len(rows) - MAX_EVENTS_SHOWN:,} more events")


def _seat_evidence(console, con, entity_id, start, end, plan_id, seats) -> None:
    """The subscription changes behind a seat stretch: the one in force at its start (unless a
    daily plan's first day took its count from a later change that day) and every later one
    before its end (changes that kept the plan and seat count, or that a later change the same
    day or the highest change_id at the same instant overrode)."""
    rows = con.execute(
        """
        with in_force_at_start as (
            select max(effective_at) as effective_at from staging.stg_subscription_changes
            where entity_id = ? and effective_at <= ?
        )
        select change_id, plan_id, seats, effective_at from staging.stg_subscription_changes
        where entity_id = ? and effective_at < ?
          and effective_at >= coalesce((select effective_at from in_force_at_start), ?)
        order by effective_at, change_id
        """,
        [entity_id, start, entity_id, end, start],
    ).fetchall()
    if rows and rows[0][3] <= start and (rows[0][1], rows[0][2]) != (plan_id, seats):
        rows = rows[1:]  # a daily stretch's first day billed at that day's later change
    for change_id, change_plan, change_seats, effective_at in rows:
        console.print(
            f"   subscription change {change_id}: {change_seats} seats of {change_plan} "
            f"from {_at(effective_at)} UTC",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"   billed {_at(start)} → {_at(end)} UTC", highlight=False)


def _ledger_evidence(console, con, entity_id, period, line_type, key, currency) -> None:
    entry = "draw" if line_type == "credits_applied" else "grant"
    rows = con.execute(
        """
        select purchase_id, event_id, user_id, occurred_at, amount
        from main.credit_ledger
        where entity_id = ? and period = ? and entry_type = ?
        order by occurred_at, event_id
        """,
        [entity_id, period, entry],
    ).fetchall()
    if line_type == "credit_purchase":
        purchase = key.split("|")[-1]
        rows = [r for r in rows if r[0] == purchase]
    table = Table("lot", "event", "user", "at (UTC)", "amount", show_edge=False)
    for purchase_id, event_id, user_id, occurred_at, amount in rows[:MAX_EVENTS_SHOWN]:
        table.add_row(purchase_id, event_id or "", user_id or "", _at(occurred_at),
                      _exact(amount, currency))
    console.print(table)
    if len(rows) > MAX_EVENTS_SHOWN:
        console.print(f"   … and {len(rows) - MAX_EVENTS_SHOWN:,} more ledger entries")
