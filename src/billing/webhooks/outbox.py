"""The webhook outbox: every webhook is recorded here, as ``pending``, before any attempt.

A webhook's id is derived from its ``dedup_key`` (``msg_`` + 32 hex digits of its SHA-256), so
queueing the same facts twice inserts nothing: that is how running the same close again sends
no webhook twice. The payload is rendered once, when the row is inserted, and never changes;
every retry sends the same bytes under the same ``webhook-id``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from billing.errors import BillingError
from billing.webhooks.payloads import render_payload

OUTBOX = "main.webhook_outbox"
TRIGGERS = "intermediate.int_webhook_triggers"


class OutboxRow(NamedTuple):
    """One webhook to queue. ``facts`` is a mapping or a JSON object string."""

    dedup_key: str
    event_type: str
    entity_id: str
    organization_id: str | None
    user_id: str | None
    facts: Mapping[str, Any] | str


def webhook_id_for(dedup_key: str) -> str:
    """The deterministic Standard Webhooks message id of a dedup key."""
    return "msg_" + hashlib.sha256(dedup_key.encode("utf-8")).hexdigest()[:32]


def _facts_of(row: OutboxRow) -> dict[str, Any]:
    facts: Any = row.facts
    if isinstance(facts, str):
        try:
            facts = json.loads(facts, parse_float=Decimal)
        except ValueError as exc:
            raise BillingError(f"webhook {row.dedup_key}: facts are not JSON: {exc}") from None
    if not isinstance(facts, Mapping):
        raise BillingError(f"webhook {row.dedup_key}: facts must be a JSON object")
    merged = dict(facts)
    for key in ("entity_id", "organization_id", "user_id"):
        column = getattr(row, key)
        given = merged.get(key)
        if given is not None and column is not None and str(given) != str(column):
            raise BillingError(
                f"webhook {row.dedup_key}: facts say {key}={given!r} but the row says {column!r}"
            )
        if given is None:
            merged[key] = column
    return merged


def _now(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise BillingError("enqueue: 'now' must carry a time zone")
    return now


def _existing_keys(con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    probe = pa.table({"dedup_key": pa.array(keys, pa.string())})
    con.register("_webhook_keys_probe", probe)
    try:
        found = con.execute(
            f"select k.dedup_key from _webhook_keys_probe k join {OUTBOX} o using (dedup_key)"
        ).fetchall()
    finally:
        con.unregister("_webhook_keys_probe")
    return {k for (k,) in found}


def enqueue(
    con: duckdb.DuckDBPyConnection,
    rows: Iterable[OutboxRow | Sequence[Any]],
    *,
    now: datetime | None = None,
    close_run_id: str | None = None,
) -> int:
    """Render and insert the webhooks whose ``dedup_key`` is not in the outbox yet.

    Rows are ``(dedup_key, event_type, entity_id, organization_id, user_id, facts)``. New rows
    are ``pending`` with 0 attempts and due at ``now``. One INSERT statement: it joins the
    caller's transaction when there is one (the close queues webhooks in the transaction that
    finalizes the invoices). Returns how many rows were inserted.
    """
    now = _now(now)
    batch: dict[str, OutboxRow] = {}
    for raw in rows:
        row = raw if isinstance(raw, OutboxRow) else OutboxRow(*raw)
        if not row.dedup_key:
            raise BillingError(f"webhook {row.event_type}: empty dedup_key")
        batch.setdefault(row.dedup_key, row)  # first one wins within a batch
    existing = _existing_keys(con, list(batch))
    fresh = [r for k, r in batch.items() if k not in existing]
    if not fresh:
        return 0
    payloads = [render_payload(r.event_type, _facts_of(r)) for r in fresh]
    table = pa.table(
        {
            "webhook_id": pa.array([webhook_id_for(r.dedup_key) for r in fresh], pa.string()),
            "dedup_key": pa.array([r.dedup_key for r in fresh], pa.string()),
            "event_type": pa.array([r.event_type for r in fresh], pa.string()),
            "entity_id": pa.array([r.entity_id for r in fresh], pa.string()),
            "organization_id": pa.array([r.organization_id for r in fresh], pa.string()),
            "user_id": pa.array([r.user_id for r in fresh], pa.string()),
            "payload": pa.array(payloads, pa.string()),
        }
    )
    con.register("_webhook_enqueue", table)
    try:
        (inserted,) = con.execute(
            f"""
            insert into {OUTBOX} (
                webhook_id, dedup_key, event_type, entity_id, organization_id, user_id,
                payload, status, attempts, next_attempt_at, created_at, close_run_id
            )
            select n.webhook_id, n.dedup_key, n.event_type, n.entity_id, n.organization_id,
                   n.user_id, n.payload, 'pending', 0, $now, $now, $close_run_id
            from _webhook_enqueue n
            where not exists (
                select 1 from {OUTBOX} o
                where o.dedup_key = n.dedup_key or o.webhook_id = n.webhook_id
            )
            """,
            {"now": now, "close_run_id": close_run_id},
        ).fetchone()
    finally:
        con.unregister("_webhook_enqueue")
    return int(inserted)


def queue_from_triggers(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime | str,
    *,
    now: datetime | None = None,
    close_run_id: str | None = None,
    payments_only: bool = False,
) -> int:
    """Queue every row of ``intermediate.int_webhook_triggers`` that happened by ``as_of``
    and is not in the outbox yet. Returns how many webhooks were queued.

    ``payments_only`` (after a load): only what new payments rows trigger by themselves,
    ``billing.payment_failed`` and the suspension for three failed payments; nothing when no
    close has built the triggers yet (no invoice was issued, so no payment can match one).
    """
    if isinstance(as_of, str):
        try:
            as_of = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
        except ValueError:
            raise BillingError(f"as_of {as_of!r} is not an ISO-8601 instant") from None
    if as_of.tzinfo is None:
        raise BillingError("as_of must carry a time-zone offset")
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'intermediate' and table_name = 'int_webhook_triggers'"
    ).fetchone()
    if not exists or not exists[0]:
        if payments_only:
            return 0
        raise BillingError(f"{TRIGGERS} does not exist: run the dbt models before queueing")
    only = (
        "and (t.event_type = 'billing.payment_failed' "
        "or t.dedup_key like 'billing.suspension|%|three_failed_payments')"
        if payments_only else ""
    )
    found = con.execute(
        f"""
        select t.dedup_key, t.event_type, t.entity_id, t.organization_id, t.user_id,
               t.occurred_at, cast(t.facts as varchar)
        from {TRIGGERS} t
        where t.occurred_at <= $as_of {only}
          and not exists (select 1 from {OUTBOX} o where o.dedup_key = t.dedup_key)
        order by t.occurred_at, t.dedup_key
        """,
        {"as_of": as_of},
    ).fetchall()
    rows = []
    for dedup_key, event_type, entity_id, organization_id, user_id, occurred_at, facts in found:
        parsed = json.loads(facts, parse_float=Decimal) if facts else {}
        parsed.setdefault("occurred_at", occurred_at)
        rows.append(OutboxRow(dedup_key, event_type, entity_id, organization_id, user_id, parsed))
    return enqueue(con, rows, now=now, close_run_id=close_run_id)
