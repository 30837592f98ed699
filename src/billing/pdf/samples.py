"""Sample invoices for the benchmark, the visual check and the tests (no warehouse needed).

The numbers add up as the contract says: subtotal = sum of the rounded lines, total =
subtotal + round(subtotal × tax_rate).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.money import quantize
from billing.pdf.model import Customer, InvoiceDoc, InvoiceLine, Seller, load_seller


def make_doc(
    invoice_number: str,
    customer: Customer,
    lines: list[InvoiceLine],
    *,
    currency: str = "USD",
    period: str = "2026-10",
    tax_rate: Decimal = Decimal("0"),
    timezone: str = "UTC",
    seller: Seller | None = None,
    issue_date: date = date(2026, 11, 1),
    due_date: date = date(2026, 12, 1),
) -> InvoiceDoc:
    """An InvoiceDoc whose totals are computed from its lines (amounts rounded per currency)."""
    lines = [
        InvoiceLine(**{**{slot: getattr(line, slot) for slot in InvoiceLine.__slots__},
                       "amount": quantize(line.amount, currency)})
        for line in lines
    ]
    subtotal = sum((line.amount for line in lines), Decimal(0))
    credits = -sum((line.amount for line in lines if line.line_type == "credits_applied"),
                   Decimal(0))
    tax = quantize(subtotal * tax_rate, currency)
    return InvoiceDoc(
        invoice_id=f"{customer.entity_id}:{period}",
        invoice_number=invoice_number,
        seller=seller or load_seller(),
        customer=customer,
        issue_date=issue_date,
        due_date=due_date,
        period=period,
        currency=currency,
        lines=tuple(lines),
        subtotal=subtotal,
        credits_applied=credits,
        tax=tax,
        tax_rate=tax_rate,
        total=subtotal + tax,
        timezone=timezone,
    )


def _utc(*args: int, tz: str = "UTC") -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


def usd_sample(seller: Seller | None = None) -> InvoiceDoc:
    """Tiers, seat stretches, a credit package, credits applied and an adjustment."""
    tz = "America/New_York"
    d = Decimal
    lines = [
        InvoiceLine(1, "usage", "Job posts — graduated, tier 1 (1 – 1,000)", d("100.00"),
                    d(1000), d("0.10")),
        InvoiceLine(2, "usage", "Job posts — graduated, tier 2 (1,001 – 10,000)", d("450.00"),
                    d(9000), d("0.05")),
        InvoiceLine(3, "usage", "Job posts — graduated, tier 3 (10,001 and up)", d("50.00"),
                    d(5000), d("0.01")),
        InvoiceLine(4, "usage", "Payment processing — 2.9% of $18,240.00 (min $0.30 per payment)",
                    d("528.96"), d(312), None),
        InvoiceLine(5, "usage", "Contract e-signatures (packages of 50)", d("75.00"), d(120),
                    d("25.00")),
        InvoiceLine(6, "seat", "Team plan — 5 seats", d("96.77"), d(5), d("40.00"),
                    _utc(2026, 10, 1, tz=tz), _utc(2026, 10, 16, tz=tz)),
        InvoiceLine(7, "seat", "Team plan — 8 seats", d("123.87"), d(8), d("40.00"),
                    _utc(2026, 10, 16, tz=tz), _utc(2026, 11, 1, tz=tz)),
        InvoiceLine(8, "credit_purchase", "Prepaid credits — 500.00 USD package (PKG-2231)",
                    d("450.00"), d(1), d("450.00")),
        InvoiceLine(9, "adjustment", "Job posts — late events re-rated", d("12.40"),
                    original_period="2026-09"),
        InvoiceLine(10, "credits_applied", "Prepaid credits used this period", d("-380.25")),
    ]
    customer = Customer(
        "ent_acme_us", "Acme Talent Partners LLC",
        "1200 Market Street, Floor 9\nSan Francisco, CA 94102", "ap@acmetalent.example", "US",
        "org_acme",
    )
    return make_doc("ent_acme_us-000007", customer, lines, tax_rate=Decimal("0.0825"),
                    timezone=tz, seller=seller)


def jpy_sample(seller: Seller | None = None) -> InvoiceDoc:
    d = Decimal
    tz = "Asia/Tokyo"
    lines = [
        InvoiceLine(1, "usage", "Job posts (per post)", d(36000), d(240), d(150)),
        InvoiceLine(2, "usage", "Messages — volume tier 1,001 – 5,000", d(12870), d(4290), d(3)),
        InvoiceLine(3, "seat", "Business plan — 3 seats", d(14516), d(3), d(5000),
                    _utc(2026, 10, 1, tz=tz), _utc(2026, 10, 31, tz=tz)),
        InvoiceLine(4, "credits_applied", "Prepaid credits used this period", d(-8000)),
    ]
    customer = Customer("ent_sakura_jp", "Sakura Freelance K.K.",
                        "1-2-3 Shibuya, Shibuya-ku\nTokyo 150-0002", "keiri@sakura.example",
                        "JP", "org_sakura")
    return make_doc("ent_sakura_jp-000003", customer, lines, currency="JPY",
                    tax_rate=Decimal("0.10"), timezone=tz, seller=seller)


def long_sample(n_lines: int = 1000, seller: Seller | None = None) -> InvoiceDoc:
    """Many usage lines with distinct amounts, a very long name and address."""
    d = Decimal
    lines = [
        InvoiceLine(i, "usage", f"Event type evt_{i:04d} — per unit", d(i) + d("0.01") * (i % 97),
                    d(i), d(1))
        for i in range(1, n_lines + 1)
    ]
    name = "Northern Hemisphere Collaborative Freelance Engineering and Design Cooperative " * 2
    address = ("Unit 4B, The Old Biscuit Factory Industrial Estate and Creative Quarter, "
               "Long Lane Off The Very Long Road Near The Roundabout\nSupercalifragilistic"
               "expialidociousvillewithoutanyspacesatallinthisname\nEdinburgh EH1 1AA")
    customer = Customer("ent_long_gb", name.strip(), address, "accounts-payable-team@" +
                        "a-very-long-subdomain-name.northern-hemisphere-cooperative.example", "GB")
    return make_doc("ent_long_gb-000042", customer, lines, currency="GBP",
                    tax_rate=d("0.20"), timezone="Europe/London", seller=seller)


def bench_doc(i: int, seller: Seller | None = None) -> InvoiceDoc:
    """A typical one-page invoice, distinct per i."""
    d = Decimal
    lines = [
        InvoiceLine(1, "usage", "Job posts — per post", d(3 * i + 10), d(i + 10), d(3)),
        InvoiceLine(2, "usage", "Messages — graduated, tier 1 (1 – 1,000)", d("100.00"), d(1000),
                    d("0.10")),
        InvoiceLine(3, "usage", "Messages — graduated, tier 2 (1,001 – 10,000)",
                    d("0.05") * (i % 500 + 1), d(i % 500 + 1), d("0.05")),
        InvoiceLine(4, "seat", "Team plan — 4 seats", d("160.00"), d(4), d("40.00"),
                    _utc(2026, 10, 1), _utc(2026, 11, 1)),
        InvoiceLine(5, "credits_applied", "Prepaid credits used this period", d(-(i % 50))),
    ]
    customer = Customer(f"ent_{i:05d}", f"Customer {i:05d} Studio Ltd",
                        f"{i} Example Road\nSpringfield {10000 + i}", f"billing{i}@example.com",
                        "US")
    return make_doc(f"ent_{i:05d}-000001", customer, lines, tax_rate=d("0.07"), seller=seller)
