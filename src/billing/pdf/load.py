"""Build :class:`InvoiceDoc` objects from the warehouse marts.

Reads ``main.invoices`` and ``main.invoice_lines`` (CONTRACT.md "Outputs") joined to
``staging.stg_entities`` for the customer block. Optional columns are used when present:
``invoices.due_at`` (else issue date + the seller's payment terms) and ``invoices.tax_rate``
(else the entity's current rate); ``stg_entities.timezone`` (else UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from billing.errors import BillingError
from billing.pdf.model import Customer, InvoiceDoc, InvoiceLine, Seller, load_seller
from billing.pdf.view import period_bounds, zone_of

if TYPE_CHECKING:  # rendering workers never import duckdb
    import duckdb


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    if not rows:
        raise BillingError(f"warehouse: table {schema}.{table} is missing (run the models first)")
    return {name for (name,) in rows}


def issued_or_now(column: str, now: str) -> str:
    """The customer's ``column`` as issued (``b``) when the invoice was issued, else ``now``."""
    return f"case when b.invoice_id is not null then b.{column} else {now} end"


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0] > 0


def _local_date(ts: datetime | None, zone: ZoneInfo) -> date | None:
    if ts is None:
        return None
    if ts.tzinfo is None:  # timestamptz comes back aware; a naive one is UTC by convention
        ts = ts.replace(tzinfo=ZoneInfo("UTC"))
    return ts.astimezone(zone).date()


def _dec(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value if value is not None else 0))


def load_invoice_docs(con: duckdb.DuckDBPyConnection, invoice_ids: Sequence[str],
                      seller: Seller | None = None) -> list[InvoiceDoc]:
    """One :class:`InvoiceDoc` per invoice id, in the order given.

    Lines are ordered by line_number. A line whose entity differs from its invoice's entity
    stops the load (one entity's data must never reach another's PDF), as does an unknown id.
    """
    ids = list(dict.fromkeys(invoice_ids))
    if not ids:
        return []
    seller = seller or load_seller()
    inv_cols = _columns(con, "main", "invoices")
    ent_cols = _columns(con, "staging", "stg_entities")
    _columns(con, "main", "invoice_lines")
    due = "i.due_at" if "due_at" in inv_cols else "null::timestamptz"
    rate = "coalesce(e.tax_rate, 0)"
    if "tax_rate" in inv_cols:
        rate = "coalesce(i.tax_rate, e.tax_rate, 0)"
    tz = "e.timezone" if "timezone" in ent_cols else "'UTC'"
    # an issued invoice shows its customer as at finalization (billing.issued_bill_to); a draft,
    # or an invoice issued before that table existed, as the entity stands now
    bill_to = "billing.issued_bill_to" if _has_table(con, "billing", "issued_bill_to") else (
        "(select null::varchar as invoice_id, null::varchar as entity_name, null::varchar as "
        "address, null::varchar as billing_email, null::varchar as country, "
        "null::varchar as timezone)"
    )
    invoices = con.execute(
        f"""
        select i.invoice_id, i.invoice_number, i.entity_id, i.organization_id, i.period,
               i.currency, i.status, i.subtotal, i.credits_applied, i.tax, i.total,
               i.issued_at, {due} as due_at, {rate} as tax_rate,
               e.entity_id is not null or b.invoice_id is not null as has_entity,
               {issued_or_now("entity_name", "e.entity_name")},
               {issued_or_now("address", "e.address")},
               {issued_or_now("billing_email", "e.billing_email")},
               {issued_or_now("country", "e.country")},
               {issued_or_now("timezone", tz)} as timezone
        from main.invoices as i
        left join staging.stg_entities as e on e.entity_id = i.entity_id
        left join {bill_to} as b on b.invoice_id = i.invoice_id
        where list_contains(?, i.invoice_id)
        """,
        [ids],
    ).fetchall()
    by_id = {row[0]: row for row in invoices}
    missing = [invoice_id for invoice_id in ids if invoice_id not in by_id]
    if missing:
        raise BillingError(f"warehouse: no invoice with id {', '.join(map(repr, missing[:5]))}")
    lines_by_invoice: dict[str, list[InvoiceLine]] = {invoice_id: [] for invoice_id in ids}
    line_rows = con.execute(
        """
        select l.invoice_id, l.entity_id, l.line_number, l.line_type, l.description,
               l.quantity, l.unit_price, l.amount, l.service_start, l.service_end,
               l.original_period
        from main.invoice_lines as l
        where list_contains(?, l.invoice_id)
        order by l.invoice_id, l.line_number
        """,
        [ids],
    ).fetchall()
    for (invoice_id, entity_id, number, line_type, description, quantity, unit_price, amount,
         start, end, original_period) in line_rows:
        if entity_id != by_id[invoice_id][2]:
            raise BillingError(
                f"invoice_lines: line {number} of invoice {invoice_id} belongs to entity "
                f"{entity_id!r}, not to the invoice's entity"
            )
        lines_by_invoice[invoice_id].append(InvoiceLine(
            line_number=int(number), line_type=str(line_type), description=str(description or ""),
            amount=_dec(amount),
            quantity=None if quantity is None else _dec(quantity),
            unit_price=None if unit_price is None else _dec(unit_price),
            service_start=start, service_end=end, original_period=original_period,
        ))
    return [_doc(by_id[invoice_id], lines_by_invoice[invoice_id], seller) for invoice_id in ids]


def _doc(row: tuple, lines: list[InvoiceLine], seller: Seller) -> InvoiceDoc:
    (invoice_id, number, entity_id, organization_id, period, currency, status, subtotal,
     credits_applied, tax, total, issued_at, due_at, tax_rate, has_entity, entity_name, address,
     billing_email, country, timezone) = row
    if not has_entity:
        raise BillingError(
            f"invoices: invoice {invoice_id} names entity {entity_id!r}, unknown in stg_entities"
        )
    zone = zone_of(timezone or "UTC")
    # A draft has no issue date yet: it shows the day after its period, the earliest close.
    issue = _local_date(issued_at, zone) or period_bounds(period)[1] + timedelta(days=1)
    due = _local_date(due_at, zone) or issue + timedelta(days=seller.payment_terms_days)
    return InvoiceDoc(
        invoice_id=invoice_id,
        invoice_number=number,
        seller=seller,
        customer=Customer(
            entity_id=entity_id, entity_name=entity_name or entity_id, address=address or "",
            billing_email=billing_email or "", country=country or "",
            organization_id=organization_id or "",
        ),
        issue_date=issue,
        due_date=due,
        period=period,
        currency=currency,
        lines=tuple(lines),
        subtotal=_dec(subtotal),
        credits_applied=abs(_dec(credits_applied)),
        tax=_dec(tax),
        tax_rate=_dec(tax_rate),
        total=_dec(total),
        timezone=timezone or "UTC",
        status=status or "finalized",
        issued_at=issued_at,
    )
