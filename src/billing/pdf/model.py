"""What one invoice PDF shows: plain, picklable dataclasses (they travel to worker processes).

:class:`InvoiceDoc` is everything one PDF needs and nothing else, so that rendering is a pure
function of it (the same doc gives the same bytes) and can run as an independent task anywhere.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from billing.errors import BillingError
from billing.paths import TEMPLATES_DIR

SELLER_FILE = Path(os.environ.get("BILLING_SELLER_FILE", TEMPLATES_DIR / "seller.toml"))
DEFAULT_TERMS = "Payment due within 30 days of the issue date."
DEFAULT_ACCENT = "#1f5f8b"
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?")


@dataclass(frozen=True, slots=True)
class Seller:
    """Who the invoices come from (``templates/seller.toml``)."""

    name: str
    address: tuple[str, ...] = ()
    tax_id: str = ""
    email: str = ""
    website: str = ""
    phone: str = ""
    payment_terms: str = DEFAULT_TERMS
    payment_terms_days: int = 30
    bank: tuple[tuple[str, str], ...] = ()
    accent: str = DEFAULT_ACCENT
    logo: str = ""


@dataclass(frozen=True, slots=True)
class Customer:
    """The billed entity as it stands in ``staging.stg_entities``."""

    entity_id: str
    entity_name: str
    address: str = ""
    billing_email: str = ""
    country: str = ""
    organization_id: str = ""


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    line_number: int
    line_type: str
    description: str
    amount: Decimal
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    service_start: datetime | None = None
    service_end: datetime | None = None
    original_period: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceDoc:
    """Everything one invoice PDF needs. Money is Decimal, rounded as the warehouse stores it.

    ``credits_applied`` is the amount of credits used, as a non-negative number (the
    ``credits_applied`` line itself is negative); ``subtotal`` is the sum of all lines,
    ``total = subtotal + tax``.
    """

    invoice_id: str
    invoice_number: str
    seller: Seller
    customer: Customer
    issue_date: date
    due_date: date
    period: str
    currency: str
    lines: tuple[InvoiceLine, ...]
    subtotal: Decimal
    credits_applied: Decimal
    tax: Decimal
    tax_rate: Decimal
    total: Decimal
    timezone: str = "UTC"
    status: str = "finalized"
    # When the warehouse fixed the invoice; the PDF's creation date (the issue date if None).
    issued_at: datetime | None = field(default=None, compare=False)

    @property
    def file_name(self) -> str:
        """The PDF's file name: the invoice number, made safe for any file system."""
        return safe_file_stem(self.invoice_number) + ".pdf"

    def check(self) -> None:
        """Refuse to draw an invoice whose numbers do not add up (CONTRACT.md "Money")."""
        where = f"invoice {self.invoice_number} ({self.invoice_id})"
        lines_sum = sum((line.amount for line in self.lines), Decimal(0))
        if lines_sum != self.subtotal:
            raise BillingError(f"{where}: lines sum to {lines_sum}, subtotal is {self.subtotal}")
        if self.subtotal + self.tax != self.total:
            raise BillingError(
                f"{where}: subtotal {self.subtotal} + tax {self.tax} != total {self.total}"
            )
        numbers = [line.line_number for line in self.lines]
        if len(set(numbers)) != len(numbers):
            raise BillingError(f"{where}: duplicate line numbers")


def safe_file_stem(text: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    if not stem:
        raise BillingError(f"invoice number {text!r} cannot name a file")
    return stem[:150]


def load_seller(path: Path | None = None) -> Seller:
    """Read the seller block (defaults in ``templates/seller.toml``)."""
    path = Path(path) if path is not None else SELLER_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BillingError(f"{path}: cannot read the seller settings ({exc})") from exc
    if not str(data.get("name", "")).strip():
        raise BillingError(f"{path}: 'name' (the seller's name) is required")
    address = data.get("address", ())
    if isinstance(address, str):
        address = address.splitlines()
    bank_labels = {"account_name": "Account", "bank": "Bank", "iban": "IBAN", "bic": "BIC/SWIFT"}
    bank = tuple(
        (bank_labels.get(key, key.replace("_", " ").capitalize()), str(value))
        for key, value in (data.get("bank") or {}).items()
    )
    branding = data.get("branding") or {}
    accent = str(branding.get("accent", DEFAULT_ACCENT))
    if not _HEX_COLOUR.fullmatch(accent):
        raise BillingError(f"{path}: branding.accent must be a hex colour like #1f5f8b")
    try:
        terms_days = int(data.get("payment_terms_days", 30))
    except (TypeError, ValueError) as exc:
        raise BillingError(f"{path}: payment_terms_days must be a whole number of days") from exc
    return Seller(
        name=str(data["name"]).strip(),
        address=tuple(str(a) for a in address),
        tax_id=str(data.get("tax_id", "")),
        email=str(data.get("email", "")),
        website=str(data.get("website", "")),
        phone=str(data.get("phone", "")),
        payment_terms=str(data.get("payment_terms", DEFAULT_TERMS)),
        payment_terms_days=terms_days,
        bank=bank,
        accent=accent,
        logo=str(branding.get("logo", "")),
    )
