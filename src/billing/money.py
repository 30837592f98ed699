"""Money in Python: currency minor units, rounding and display, all with :class:`Decimal`.

The minor units and symbols come from ``seeds/currencies.csv`` (the same seed dbt rounds with),
so the PDF and the webhooks show exactly the precision the warehouse computed.

* ``quantize(amount, "JPY")`` rounds half away from zero to the currency's minor unit;
* ``format_money(Decimal("-1234.5"), "USD")`` gives ``-$1,234.50``; JPY shows no decimals
  (``¥12,345``), KWD three (``KD 1.235``). A symbol made of letters is set apart by a space.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from functools import cache
from pathlib import Path

from billing.errors import BillingError
from billing.paths import PROJECT_DIR

CURRENCIES_CSV = PROJECT_DIR / "seeds" / "currencies.csv"
#: Wide enough for any decimal(38, 12) value: Decimal's default 28 digits would round (or
#: refuse) the widest amounts when they are quantized or formatted.
_EXACT = Context(prec=80)


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    minor_unit: int
    symbol: str
    name: str

    @property
    def exponent(self) -> Decimal:
        """The smallest amount of the currency: ``Decimal('0.01')`` for USD, ``1`` for JPY."""
        return Decimal(1).scaleb(-self.minor_unit)


@cache
def load_currencies(path: Path = CURRENCIES_CSV) -> dict[str, Currency]:
    """Read the currencies seed (currency, minor_unit, symbol, name) keyed by ISO code."""
    out: dict[str, Currency] = {}
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            for row_number, row in enumerate(csv.DictReader(fh), start=1):
                try:
                    code = row["currency"].strip().upper()
                    minor = int(row["minor_unit"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise BillingError(
                        f"{path}, row {row_number}: needs currency and an integer minor_unit"
                    ) from exc
                symbol = (row.get("symbol") or "").strip() or code
                out[code] = Currency(code, minor, symbol, (row.get("name") or "").strip())
    except OSError as exc:
        raise BillingError(f"{path}: cannot read the currencies seed ({exc})") from exc
    return out


def currency(code: str) -> Currency:
    """The seed row of an ISO 4217 code; a :class:`BillingError` names an unknown one."""
    found = load_currencies().get((code or "").strip().upper())
    if found is None:
        raise BillingError(f"{CURRENCIES_CSV.name}: unknown currency {code!r}")
    return found


def to_decimal(value: object) -> Decimal:
    """A Decimal from a Decimal, int or decimal string; floats are refused (they lose cents)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (bool, float)):
        raise BillingError(f"money must be Decimal, int or a decimal string, not {value!r}")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise BillingError(f"not a decimal amount: {value!r}") from exc


def quantize(amount: object, code: str) -> Decimal:
    """Round half away from zero to the currency's minor unit."""
    return to_decimal(amount).quantize(currency(code).exponent, rounding=ROUND_HALF_UP,
                                      context=_EXACT)


def _group(value: Decimal, places: int) -> str:
    """``1234567.5`` with 2 places → ``1,234,567.50`` (absolute value, no sign)."""
    with localcontext(_EXACT):  # Decimal formatting rounds to the context's 28 digits
        return f"{abs(value):,.{places}f}"


def _with_symbol(number: str, cur: Currency, negative: bool) -> str:
    sep = " " if cur.symbol[-1:].isalpha() else ""
    return f"{'-' if negative else ''}{cur.symbol}{sep}{number}"


def format_money(amount: object, code: str) -> str:
    """Display an amount with the currency's symbol and exactly its minor unit of decimals."""
    cur = currency(code)
    value = to_decimal(amount).quantize(cur.exponent, rounding=ROUND_HALF_UP, context=_EXACT)
    return _with_symbol(_group(value, cur.minor_unit), cur, value < 0)


def padded(amount: object, code: str) -> Decimal:
    """The exact amount with at least the currency's minor unit of decimals, never rounded:
    ``49.995`` USD stays ``49.995``, ``96.8`` becomes ``96.80``, ``3`` JPY stays ``3``."""
    value = to_decimal(amount)
    exponent = value.normalize(_EXACT).as_tuple().exponent
    places = max(currency(code).minor_unit,
                 -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return value.quantize(Decimal(1).scaleb(-places), context=_EXACT)


def format_unit_price(amount: object, code: str) -> str:
    """A unit price: at least the minor unit of decimals, more only where the price has them.

    ``0.0125`` USD shows as ``$0.0125``, ``5`` USD as ``$5.00``, ``3`` JPY as ``¥3``.
    """
    cur = currency(code)
    value = padded(amount, code)
    places = -value.as_tuple().exponent
    return _with_symbol(_group(value, places), cur, value < 0)


def format_quantity(value: object) -> str:
    """A quantity without trailing zeros, grouped: ``15000.0000`` → ``15,000``; ``2.5`` kept."""
    number = to_decimal(value)
    exponent = number.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return f"{number:,.{places}f}"
