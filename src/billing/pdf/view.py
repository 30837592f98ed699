"""Turn an :class:`InvoiceDoc` into the strings the template prints (the template computes
nothing: money, dates and groupings are all decided here, in one testable place)."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.countries import country_name
from billing.errors import BillingError
from billing.money import format_money, format_quantity, format_unit_price
from billing.pdf.model import InvoiceDoc, InvoiceLine

#: Line groups in the order the invoice shows them; unknown types come last under "Other".
GROUPS: tuple[tuple[str, str], ...] = (
    ("usage", "Usage"),
    ("seat", "Seats"),
    ("credit_purchase", "Credit packages"),
    ("adjustment", "Adjustments to earlier periods"),
    ("credits_applied", "Prepaid credits applied"),
)


def period_bounds(period: str) -> tuple[date, date]:
    """First and last day of a ``YYYY-MM`` period."""
    try:
        year, month = (int(part) for part in period.split("-"))
        first = date(year, month, 1)
    except (ValueError, TypeError) as exc:
        raise BillingError(f"period {period!r} is not YYYY-MM") from exc
    return first, first.replace(day=calendar.monthrange(year, month)[1])


def fmt_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def period_label(period: str) -> str:
    first, _ = period_bounds(period)
    return f"{first:%B %Y}"


def fmt_range(start: date, end: date) -> str:
    """``1 – 31 Oct 2026``, ``28 Sep – 3 Oct 2026``, ``28 Dec 2025 – 3 Jan 2026``."""
    if start == end:
        return fmt_date(start)
    if start.year != end.year:
        return f"{fmt_date(start)} – {fmt_date(end)}"
    if start.month != end.month:
        return f"{start.day} {start:%b} – {fmt_date(end)}"
    return f"{start.day} – {fmt_date(end)}"


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BillingError(f"unknown time zone {name!r}") from exc


def service_range(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """A service stretch in the entity's local time.

    Stretches from local midnight to local midnight show as inclusive dates
    (``1 – 15 Oct 2026``); others show the local times (``1 Oct 2026 09:30 – 15 Oct 2026
    00:00``), as ``second`` proration bills to the second.
    """
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.time() == local_end.time() == datetime.min.time() and local_end > local_start:
        return fmt_range(local_start.date(), local_end.date() - timedelta(days=1))
    return f"{fmt_date(local_start)} {local_start:%H:%M} – {fmt_date(local_end)} {local_end:%H:%M}"


def _whole_month(start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    """From local midnight of a 1st to local midnight of the next month's 1st."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    first = local_start.date()
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (first.day == 1 and local_start.time() == local_end.time() == datetime.min.time()
            and local_end.date() == following)


def fmt_rate(rate: Decimal) -> str:
    """A tax rate fraction as a percentage: ``0.19`` → ``19%``, ``0.0825`` → ``8.25%``."""
    percent = (rate * 100).normalize()
    text = f"{percent:f}"
    return f"{text}%"


def _line_view(line: InvoiceLine, currency: str, zone: ZoneInfo) -> dict[str, Any]:
    details: list[str] = []
    if (line.service_start is not None and line.service_end is not None
            and not _whole_month(line.service_start, line.service_end, zone)):
        # a whole billing month (every usage line) is the invoice's own period: not repeated
        details.append(service_range(line.service_start, line.service_end, zone))
    if line.original_period:
        details.append(f"Adjusts {period_label(line.original_period)} ({line.original_period})")
    return {
        "number": str(line.line_number),
        "description": line.description,
        "details": details,
        "quantity": format_quantity(line.quantity) if line.quantity is not None else "",
        "unit_price": (
            format_unit_price(line.unit_price, currency)
            # a seat's price is per seat per month; its amount is prorated (the description
            # says over how many days), so quantity × price need not equal the amount
            + (" / month" if line.line_type == "seat" else "")
            if line.unit_price is not None else ""
        ),
        "amount": format_money(line.amount, currency),
    }


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def build_view(doc: InvoiceDoc) -> dict[str, Any]:
    """The template's ``v``: strings only, money formatted in the invoice's currency."""
    zone = zone_of(doc.timezone)
    cur = doc.currency
    first, last = period_bounds(doc.period)
    by_type: dict[str, list[InvoiceLine]] = {}
    for line in sorted(doc.lines, key=lambda item: item.line_number):
        by_type.setdefault(line.line_type, []).append(line)
    titles = dict(GROUPS)
    order = [key for key, _ in GROUPS] + sorted(set(by_type) - set(titles))
    groups = [
        {
            "title": titles.get(key, key.replace("_", " ").capitalize()),
            "lines": [_line_view(line, cur, zone) for line in by_type[key]],
        }
        for key in order
        if key in by_type
    ]
    seller = doc.seller
    stamp = doc.issued_at or datetime.combine(doc.issue_date, datetime.min.time(), zone)
    credits = abs(doc.credits_applied)
    return {
        "accent": seller.accent,
        "logo": seller.logo,
        "number": doc.invoice_number,
        "is_draft": doc.status != "finalized",
        "timestamp": stamp.astimezone(zone_of("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seller": {
            "name": seller.name,
            "address": list(seller.address),
            "tax_id": seller.tax_id,
            "email": seller.email,
            "payment_terms": seller.payment_terms,
            "bank": list(seller.bank),
        },
        "customer": {
            "name": doc.customer.entity_name,
            "address": [part for part in (doc.customer.address or "").splitlines() if part.strip()],
            "country": _country_line(doc.customer.country, doc.customer.address),
            "email": doc.customer.billing_email,
            "account": doc.customer.entity_id,
            "short_name": _shorten(doc.customer.entity_name, 60),
        },
        "issue_date": fmt_date(doc.issue_date),
        "due_date": fmt_date(doc.due_date),
        "period_label": period_label(doc.period),
        "service_range": fmt_range(first, last),
        "currency": cur,
        "groups": groups,
        "has_credits": credits != 0,
        "charges": format_money(doc.subtotal + credits, cur),
        "credits_applied": format_money(-credits, cur),
        "subtotal": format_money(doc.subtotal, cur),
        "tax_rate": fmt_rate(doc.tax_rate),
        "tax": format_money(doc.tax, cur),
        "total": format_money(doc.total, cur),
        # a negative total (e.g. only a credited-back adjustment) is a credit note: nothing due
        "is_credit": doc.total < 0,
        "credit_total": format_money(-doc.total, cur),
    }


def _country_line(code: str | None, address: str | None) -> str:
    """The country under the address, by name ("United States" for US), unless the address
    already ends with it (by name or code): a country printed twice reads as a mistake."""
    if not code:
        return ""
    name = country_name(code)
    lines = [part.strip().lower() for part in (address or "").splitlines() if part.strip()]
    if lines and lines[-1] in {name.lower(), code.strip().lower()}:
        return ""
    return name
