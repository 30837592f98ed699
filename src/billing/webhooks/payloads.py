"""Render webhook payloads from the Jinja2 JSON templates in ``templates/webhooks/``.

Every ``{{ expression }}`` in a webhook template is JSON-encoded by the environment's
``finalize`` hook, so a template writes ``"name": {{ entity_name }}`` (no quotes) and a user
string holding quotes, backslashes, newlines or ``</script>`` still yields valid JSON. Facts
are normalised first: money becomes an exact decimal string with at least the currency's minor
unit of decimals (``"96.80"``, a credits balance of ``"49.995"``: never rounded), instants
become ISO-8601 UTC strings (``2026-10-03T12:05:00Z``); a float anywhere is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import jinja2

from billing.errors import BillingError
from billing.money import load_currencies, padded
from billing.paths import TEMPLATES_DIR

#: Facts every payload needs, whatever its type.
COMMON_REQUIRED = (
    "occurred_at",
    "entity_id",
    "entity_name",
    "organization_id",
    "organization_name",
)
#: Facts that may be missing (rendered as null); ``user_*`` is null for entity-level events.
COMMON_OPTIONAL = ("user_id", "user_name", "user_email")

#: event type -> (required facts, optional facts). Unknown extra facts are ignored.
EVENT_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "invoice.finalized": (
        ("invoice_id", "invoice_number", "period", "currency", "total", "issued_at"),
        ("subtotal", "credits_applied", "tax", "due_at"),
    ),
    "billing.payment_failed": (
        ("payment_id", "invoice_number", "amount", "currency", "attempted_at", "attempt"),
        ("invoice_id", "period"),
    ),
    "billing.credits_low": (
        ("balance", "threshold", "currency", "period"),
        ("event_id",),
    ),
    "billing.overage": (
        ("period", "currency", "credit_limit", "drawn", "overage_amount"),
        ("event_id",),
    ),
    "billing.suspension": (
        (
            "reason",
            "invoice_id",
            "invoice_number",
            "period",
            "currency",
            "total",
            "paid",
            "outstanding",
            "issued_at",
            "failed_payments",
        ),
        ("unpaid_since", "due_at"),
    ),
}

#: Facts that are money: exact decimal strings, padded to the currency's minor unit.
MONEY_FACTS = frozenset(
    {
        "subtotal",
        "credits_applied",
        "tax",
        "total",
        "amount",
        "balance",
        "threshold",
        "credit_limit",
        "drawn",
        "overage_amount",
        "paid",
        "outstanding",
    }
)
#: Facts that are whole numbers.
INTEGER_FACTS = frozenset({"attempt", "failed_payments"})
#: Suspension reasons (docs/webhooks.md).
SUSPENSION_REASONS = frozenset({"unpaid_30_days", "three_failed_payments"})


def _json_literal(value: Any) -> str:
    """``finalize`` hook: every interpolated value becomes a JSON literal."""
    if isinstance(value, float):
        raise BillingError("webhook template: a float reached a payload; money must be Decimal")
    if isinstance(value, Decimal):
        value = format(value, "f")
    elif isinstance(value, datetime):
        value = _iso_utc(value)
    elif isinstance(value, date):
        value = value.isoformat()
    return json.dumps(value, ensure_ascii=False)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "webhooks")),
        undefined=jinja2.StrictUndefined,
        finalize=_json_literal,
        autoescape=False,
        keep_trailing_newline=True,
    )
    # `tojson` would be encoded twice by `finalize`; templates must not use it.
    env.filters.pop("tojson", None)
    return env


def _iso_utc(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise BillingError(f"webhook facts: instant {ts.isoformat()} has no time zone")
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _as_decimal(event_type: str, key: str, value: Any) -> Decimal:
    if isinstance(value, float | bool):
        raise BillingError(
            f"webhook {event_type}: fact {key!r} is a {type(value).__name__}; "
            "money must be a Decimal or a decimal string"
        )
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise BillingError(f"webhook {event_type}: fact {key!r} is not a decimal") from None


def _normalise(event_type: str, key: str, value: Any, currency: str | None) -> Any:
    if value is None:
        return None
    if key in MONEY_FACTS:
        amount = _as_decimal(event_type, key, value)
        if currency is None:
            return amount
        # the fact as it is (a balance of 49.995 is under a threshold of 50.00, and says so),
        # with at least the currency's decimals: invoice amounts, already rounded, read "96.80"
        return padded(amount, currency)
    if key in INTEGER_FACTS:
        number = _as_decimal(event_type, key, value)
        if number != number.to_integral_value():
            raise BillingError(f"webhook {event_type}: fact {key!r} must be a whole number")
        return int(number)
    if key.endswith("_at") or key == "unpaid_since":
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise BillingError(
                    f"webhook {event_type}: fact {key!r} is not an ISO-8601 instant"
                ) from None
        if isinstance(value, datetime):
            return _iso_utc(value)
    if isinstance(value, float):
        raise BillingError(f"webhook {event_type}: fact {key!r} is a float")
    if isinstance(value, Decimal | int | bool):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def normalise_facts(event_type: str, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a template sees: required ones checked, optional ones defaulted to None."""
    if event_type not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        raise BillingError(f"webhook: unknown event type {event_type!r} (known: {known})")
    required, optional = EVENT_TYPES[event_type]
    missing = [k for k in (*COMMON_REQUIRED, *required) if facts.get(k) is None]
    if missing:
        raise BillingError(f"webhook {event_type}: missing facts {', '.join(missing)}")
    currency = facts.get("currency")
    if currency is not None and currency.strip().upper() not in load_currencies():
        raise BillingError(f"webhook {event_type}: unknown currency {currency!r}")
    if event_type == "billing.suspension" and facts["reason"] not in SUSPENSION_REASONS:
        raise BillingError(f"webhook billing.suspension: unknown reason {facts['reason']!r}")
    keys = (*COMMON_REQUIRED, *COMMON_OPTIONAL, *required, *optional)
    return {k: _normalise(event_type, k, facts.get(k), currency) for k in keys}


def render_payload(event_type: str, facts: Mapping[str, Any]) -> str:
    """Render ``templates/webhooks/<event_type>.json.j2`` with ``facts``; compact, valid JSON.

    The rendered text is parsed with ``json.loads`` (so a template bug cannot store an invalid
    payload) and stored in compact form, keys in template order.
    """
    context = normalise_facts(event_type, facts)
    context["event_type"] = event_type
    try:
        text = _environment().get_template(f"{event_type}.json.j2").render(context)
    except jinja2.TemplateError as exc:
        raise BillingError(f"webhook template {event_type}.json.j2: {exc}") from None
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as exc:
        raise BillingError(
            f"webhook template {event_type}.json.j2 rendered invalid JSON: {exc}"
        ) from None
    if not isinstance(document, dict) or {"type", "timestamp", "data"} - document.keys():
        raise BillingError(
            f"webhook template {event_type}.json.j2 must render an object with "
            "type, timestamp and data"
        )
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
