"""Webhooks: payload templates, the outbox, Standard Webhooks signing and delivery.

Delivery tests send real HTTP requests to a real server on 127.0.0.1
(``billing.webhooks.receiver``) that verifies every signature with the ``standardwebhooks``
library and records each webhook-id it accepted.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from standardwebhooks.webhooks import Webhook

from billing import warehouse as wh
from billing.errors import BillingError
from billing.webhooks import (
    EVENT_TYPES,
    OutboxRow,
    WebhookSecret,
    deliver,
    enqueue,
    queue_from_triggers,
    render_payload,
    sign,
    webhook_id_for,
    webhook_settings,
)
from billing.webhooks.deliver import backoff_delay, parse_retry_after
from billing.webhooks.receiver import Receiver, ReceiverThread, Reply
from billing.webhooks.settings import check_url

NASTY = 'Zoë "quoted" \\back\\slash\nnew line\t</script><script>alert(1)</script> \u2028 {{ x }}'
FAST = {"base_backoff": 0.02, "max_backoff": 0.1, "timeout": 2.0}


def _common(**extra: object) -> dict[str, object]:
    return {
        "occurred_at": "2026-10-03T14:05:00+02:00",
        "entity_name": NASTY,
        "organization_name": NASTY,
        "user_name": NASTY,
        "user_email": 'o"brien@example.com',
        **extra,
    }


FACTS: dict[str, dict[str, object]] = {
    "invoice.finalized": _common(
        invoice_id="ent_1:2026-10",
        invoice_number="ent_1-000001",
        period="2026-10",
        currency="EUR",
        subtotal=Decimal("100.00"),
        credits_applied=Decimal("-20.00"),
        tax=Decimal("16.8"),
        total=Decimal("96.8"),
        issued_at="2026-11-01T00:00:00Z",
        due_at="2026-12-01T00:00:00Z",
    ),
    "billing.payment_failed": _common(
        payment_id="pay_1",
        invoice_number="ent_1-000001",
        amount="96.80",
        currency="EUR",
        attempted_at="2026-11-05T10:00:00Z",
        attempt=2,
    ),
    "billing.credits_low": _common(
        balance=Decimal("4.123456789012"),
        threshold="10",
        currency="EUR",
        period="2026-10",
        event_id="evt_9",
    ),
    "billing.overage": _common(
        period="2026-10",
        currency="EUR",
        credit_limit="50",
        drawn="50.00",
        overage_amount="7.5",
        event_id="evt_10",
    ),
    "billing.suspension": _common(
        reason="unpaid_30_days",
        invoice_id="ent_1:2026-10",
        invoice_number="ent_1-000001",
        period="2026-10",
        currency="EUR",
        total="96.80",
        paid="0",
        outstanding="96.80",
        issued_at="2026-11-01T00:00:00Z",
        failed_payments=1,
        unpaid_since="2026-11-01T00:00:00Z",
    ),
}


def _row(i: int, event_type: str = "billing.credits_low") -> OutboxRow:
    return OutboxRow(
        f"test|{event_type}|{i}", event_type, "ent_1", "org_1", f"usr_{i}", FACTS[event_type]
    )


def _outbox(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select webhook_id, status, attempts, last_status_code, delivered_at is not null, "
        "last_error from main.webhook_outbox order by webhook_id"
    ).fetchall()


@pytest.fixture
def secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def con(warehouse_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = wh.connect(warehouse_path)
    yield connection
    connection.close()


@pytest.fixture
def receiver(secret: str) -> Iterator[tuple[Receiver, ReceiverThread]]:
    rec = Receiver(secret)
    server = ReceiverThread(rec).start()
    yield rec, server
    server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- payloads --------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_payload_is_valid_json_with_nasty_user_strings(event_type: str) -> None:
    text = render_payload(
        event_type,
        {
            "entity_id": "ent_1",
            "organization_id": "org_1",
            "user_id": 'usr_"1"',
            **FACTS[event_type],
        },
    )
    doc = json.loads(text)
    assert doc["type"] == event_type
    assert doc["timestamp"] == "2026-10-03T12:05:00Z"
    data = doc["data"]
    assert data["entity"] == {"id": "ent_1", "name": NASTY}
    assert data["organization"] == {"id": "org_1", "name": NASTY}
    assert data["user"] == {"id": 'usr_"1"', "name": NASTY, "email": 'o"brien@example.com'}


def test_payload_money_is_an_exact_decimal_string_padded_to_the_minor_unit() -> None:
    base = {"entity_id": "e", "organization_id": "o"}
    inv = json.loads(render_payload("invoice.finalized", {**base, **FACTS["invoice.finalized"]}))
    assert inv["data"]["invoice"]["total"] == "96.80"
    assert inv["data"]["invoice"]["credits_applied"] == "-20.00"
    assert inv["data"]["user"] is None  # no user_id: an entity-level event
    low = json.loads(
        render_payload("billing.credits_low", {**base, **FACTS["billing.credits_low"]})
    )
    assert low["data"]["credits"]["balance"] == "4.123456789012"
    # a balance just under the threshold says so: never rounded up to it
    under = {**base, **FACTS["billing.credits_low"], "balance": "49.995000000000",
             "threshold": "50"}
    credits = json.loads(render_payload("billing.credits_low", under))["data"]["credits"]
    assert (credits["balance"], credits["threshold"]) == ("49.995", "50.00")
    jpy = {**base, **FACTS["invoice.finalized"], "currency": "JPY", "total": "1234"}
    assert (
        json.loads(render_payload("invoice.finalized", jpy))["data"]["invoice"]["total"] == "1234"
    )
    kwd = {**base, **FACTS["billing.payment_failed"], "currency": "KWD", "amount": "1.2345"}
    assert (
        json.loads(render_payload("billing.payment_failed", kwd))["data"]["payment"]["amount"]
        == "1.2345"
    )
    big = {**base, **FACTS["billing.payment_failed"], "currency": "USD",
           "amount": "12345678901234567890123456.123456789012"}
    assert (
        json.loads(render_payload("billing.payment_failed", big))["data"]["payment"]["amount"]
        == "12345678901234567890123456.123456789012"
    )


def test_payload_refuses_floats_missing_facts_and_unknown_types() -> None:
    base = {"entity_id": "e", "organization_id": "o", **FACTS["billing.overage"]}
    with pytest.raises(BillingError, match="drawn"):
        render_payload("billing.overage", {**base, "drawn": 50.0})
    with pytest.raises(BillingError, match="missing facts credit_limit"):
        render_payload("billing.overage", {k: v for k, v in base.items() if k != "credit_limit"})
    with pytest.raises(BillingError, match="unknown event type"):
        render_payload("billing.nope", base)
    with pytest.raises(BillingError, match="unknown reason"):
        render_payload(
            "billing.suspension",
            {
                "entity_id": "e",
                "organization_id": "o",
                **FACTS["billing.suspension"],
                "reason": "x",
            },
        )


# -- outbox ----------------------------------------------------------------------------------


def test_enqueue_is_idempotent_by_dedup_key(con: duckdb.DuckDBPyConnection) -> None:
    rows = [_row(i, t) for i, t in enumerate(sorted(EVENT_TYPES))]
    assert enqueue(con, rows) == 5
    assert enqueue(con, rows) == 0
    assert enqueue(con, [*rows, _row(99)]) == 1
    got = con.execute(
        "select webhook_id, dedup_key, status, attempts, next_attempt_at <= now(), payload "
        "from main.webhook_outbox order by dedup_key"
    ).fetchall()
    assert len(got) == 6
    for webhook_id, dedup_key, status, attempts, due, payload in got:
        assert webhook_id == webhook_id_for(dedup_key)
        assert (status, attempts, due) == ("pending", 0, True)
        assert json.loads(payload)["data"]["entity"]["id"] == "ent_1"


def test_enqueue_rejects_facts_that_contradict_the_row(con: duckdb.DuckDBPyConnection) -> None:
    facts = {**FACTS["billing.overage"], "entity_id": "ent_2"}
    with pytest.raises(BillingError, match="entity_id"):
        enqueue(con, [("k", "billing.overage", "ent_1", "org_1", "usr_1", facts)])
    assert con.execute("select count(*) from main.webhook_outbox").fetchone() == (0,)


def test_queue_from_triggers_reads_the_model_and_skips_what_is_queued(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("create schema intermediate")
    con.execute(
        """create table intermediate.int_webhook_triggers as
        select 'billing.overage|ent_1|usr_' || i || '|2026-10' as dedup_key,
               'billing.overage' as event_type, 'ent_1' as entity_id,
               'org_1' as organization_id, 'usr_' || i as user_id,
               timestamptz '2026-10-03 12:00:00+00' + to_days(i) as occurred_at,
               json_object('entity_name', 'E "1"', 'organization_name', 'O',
                           'user_name', 'U', 'user_email', 'u@x', 'period', '2026-10',
                           'currency', 'EUR', 'credit_limit', 50.00::decimal(38,4),
                           'drawn', 50::decimal(38,12), 'overage_amount', 2.5::decimal(38,4),
                           'event_id', 'evt_' || i) as facts
        from range(3) t(i)"""
    )
    assert queue_from_triggers(con, "2026-10-04T12:00:00Z") == 2  # the third is after as_of
    assert queue_from_triggers(con, "2026-10-04T12:00:00Z") == 0
    assert queue_from_triggers(con, datetime(2026, 11, 1, tzinfo=UTC)) == 1
    payload = json.loads(
        con.execute("select payload from main.webhook_outbox where user_id = 'usr_0'").fetchone()[0]
    )
    assert payload["timestamp"] == "2026-10-03T12:00:00Z"
    assert payload["data"]["overage"] == {
        "period": "2026-10",
        "currency": "EUR",
        "limit": "50.00",
        "drawn": "50.00",
        "amount": "2.50",
        "event_id": "evt_0",
    }


def test_queue_from_triggers_without_the_model_says_so(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(BillingError, match="int_webhook_triggers does not exist"):
        queue_from_triggers(con, "2026-10-04T12:00:00Z")


# -- signing and settings --------------------------------------------------------------------


def test_signature_verifies_with_the_standardwebhooks_library(secret: str) -> None:
    body = render_payload(
        "billing.overage", {"entity_id": "e", "organization_id": "o", **FACTS["billing.overage"]}
    )
    ts = int(time.time())
    header = sign(WebhookSecret.parse(secret), "msg_1", ts, body)
    theirs = Webhook(secret)
    assert (
        theirs.verify(
            body, {"webhook-id": "msg_1", "webhook-timestamp": str(ts), "webhook-signature": header}
        )["data"]["entity"]["id"]
        == "e"
    )
    assert header == theirs.sign("msg_1", datetime.fromtimestamp(ts, UTC), body)
    other = "whsec_" + base64.b64encode(b"another key entirely").decode()
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(other).verify(
            body, {"webhook-id": "msg_1", "webhook-timestamp": str(ts), "webhook-signature": header}
        )


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.delenv("BILLING_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("BILLING_WEBHOOK_SECRET", raising=False)
    with pytest.raises(BillingError, match="BILLING_WEBHOOK_URL"):
        webhook_settings()
    monkeypatch.setenv("BILLING_WEBHOOK_URL", "http://user:pw@127.0.0.1:9/hook?token=t")
    monkeypatch.setenv("BILLING_WEBHOOK_SECRET", secret)
    settings = webhook_settings()
    assert settings.display_url == "http://127.0.0.1:9/hook"
    assert secret not in repr(settings) and secret[6:] not in repr(settings)
    with pytest.raises(BillingError, match="not valid") as err:
        webhook_settings(secret="whsec_not*base64!")
    assert "not*base64" not in str(err.value)


def test_backoff_grows_with_jitter_and_retry_after_parses() -> None:
    rng = random.Random(1)
    for attempt in range(1, 8):
        ceiling = min(10.0, 0.5 * 2 ** (attempt - 1))
        delays = [backoff_delay(attempt, 0.5, 10.0, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:07 GMT", now) == 7.0
    assert parse_retry_after("soon", now) is None


# -- delivery --------------------------------------------------------------------------------


def test_delivery_marks_delivered_and_the_receiver_verifies(
    con: duckdb.DuckDBPyConnection, receiver: tuple[Receiver, ReceiverThread], secret: str
) -> None:
    rec, server = receiver
    enqueue(con, [_row(i, t) for i, t in enumerate(sorted(EVENT_TYPES))])
    summary = deliver(con, server.url, secret, concurrency=4, **FAST)
    assert (summary.delivered, summary.attempts, summary.pending) == (5, 5, 0)
    assert rec.invalid == 0
    stored = dict(con.execute("select webhook_id, payload from main.webhook_outbox").fetchall())
    assert set(rec.accepted) == set(stored) and set(rec.accepted.values()) == {1}
    assert {r.webhook_id: r.body.decode() for r in rec.receipts} == stored
    assert {row[1:] for row in _outbox(con)} == {("delivered", 1, 200, True, None)}
    # Nothing is due any more: a second run sends nothing.
    assert deliver(con, server.url, secret, **FAST).attempts == 0


def test_5xx_is_retried_with_the_same_webhook_id(
    con: duckdb.DuckDBPyConnection, receiver: tuple[Receiver, ReceiverThread], secret: str
) -> None:
    rec, server = receiver
    rec.respond = lambda wid, n: Reply(500) if n == 1 else Reply(200)
    enqueue(con, [_row(i) for i in range(3)])
    summary = deliver(con, server.url, secret, wait=3.0, **FAST)
    assert (summary.delivered, summary.retried, summary.attempts) == (3, 3, 6)
    assert all(n == 2 for n in rec.seen.values()) and all(n == 1 for n in rec.accepted.values())
    assert len(rec.accepted) == 3
    assert {row[1:5] for row in _outbox(con)} == {("delivered", 2, 200, True)}


def test_without_wait_a_retry_stays_pending_for_the_next_run(
    con: duckdb.DuckDBPyConnection, receiver: tuple[Receiver, ReceiverThread], secret: str
) -> None:
    rec, server = receiver
    rec.respond = lambda wid, n: Reply(502) if n == 1 else Reply(200)
    enqueue(con, [_row(1)])
    first = deliver(con, server.url, secret, **FAST)
    assert (first.delivered, first.retried, first.pending) == (0, 1, 1)
    assert _outbox(con)[0][1:4] == ("pending", 1, 502)
    time.sleep(0.15)
    assert deliver(con, server.url, secret, **FAST).delivered == 1
    assert _outbox(con)[0][1:5] == ("delivered", 2, 200, True)


def test_429_retry_after_is_honoured(
    con: duckdb.DuckDBPyConnection, receiver: tuple[Receiver, ReceiverThread], secret: str
) -> None:
    rec, server = receiver
    rec.respond = lambda wid, n: Reply(429, {"retry-after": "1"}) if n == 1 else Reply(200)
    enqueue(con, [_row(1)])
    summary = deliver(con, server.url, secret, wait=3.0, **FAST)
    assert summary.delivered == 1
    first, second = rec.receipts
    assert first.webhook_id == second.webhook_id
    assert second.at - first.at >= 0.95  # base_backoff alone would retry after ~0.02s


def test_4xx_is_dead_at_once_and_retry_dead_resends(
    con: duckdb.DuckDBPyConnection, receiver: tuple[Receiver, ReceiverThread], secret: str
) -> None:
    rec, server = receiver
    rec.respond = lambda wid, n: Reply(400)
    enqueue(con, [_row(1), _row(2)])
    summary = deliver(con, server.url, secret, wait=1.0, **FAST)
    assert (summary.dead, summary.retried, summary.attempts) == (2, 0, 2)
    assert {row[1:4] for row in _outbox(con)} == {("dead", 1, 400)}
    # A dead webhook is not sent again by a plain run...
    assert deliver(con, server.url, secret, **FAST).attempts == 0
    # ...but --retry-dead resends it, under the same id, once the receiver is fixed.
    rec.respond = None
    again = deliver(con, server.url, secret, retry_dead=True, **FAST)
    assert (again.revived, again.delivered) == (2, 2)
    assert all(n == 2 for n in rec.seen.values()) and len(rec.accepted) == 2
    assert {row[1:5] for row in _outbox(con)} == {("delivered", 1, 200, True)}


def test_timeouts_are_retried(
    con: duckdb.DuckDBPyConnection, receiver: tuple[Receiver, ReceiverThread], secret: str
) -> None:
    rec, server = receiver
    rec.respond = lambda wid, n: Reply(200, delay=1.0) if n == 1 else Reply(200)
    enqueue(con, [_row(1)])
    summary = deliver(
        con, server.url, secret, wait=3.0, base_backoff=0.02, max_backoff=0.1, timeout=0.2
    )
    assert (summary.delivered, summary.retried) == (1, 1)
    assert summary.status_codes == {"error": 1, "200": 1}
    assert _outbox(con)[0][1:5] == ("delivered", 2, 200, True)


def test_max_attempts_then_dead(
    con: duckdb.DuckDBPyConnection, receiver: tuple[Receiver, ReceiverThread], secret: str
) -> None:
    rec, server = receiver
    rec.respond = lambda wid, n: Reply(503)
    enqueue(con, [_row(1)])
    summary = deliver(con, server.url, secret, max_attempts=3, wait=3.0, **FAST)
    assert (summary.attempts, summary.retried, summary.dead) == (3, 2, 1)
    assert _outbox(con)[0][1:] == ("dead", 3, 503, False, "HTTP 503")
    assert sum(rec.seen.values()) == 3 and not rec.accepted


def test_receiver_down_then_up_gets_each_webhook_exactly_once(
    con: duckdb.DuckDBPyConnection, secret: str
) -> None:
    port = _free_port()
    rec = Receiver(secret)
    server = ReceiverThread(rec, port=port)
    enqueue(con, [_row(i) for i in range(40)])
    starter = threading.Timer(1.0, server.start)  # the receiver comes up after a second
    starter.start()
    try:
        summary = deliver(
            con,
            server.url,
            secret,
            concurrency=8,
            max_attempts=50,
            wait=5.0,
            base_backoff=0.05,
            max_backoff=0.3,
            timeout=2.0,
        )
    finally:
        starter.join()
        server.stop()
    assert summary.delivered == 40 and summary.retried > 0 and summary.pending == 0
    assert len(rec.accepted) == 40 and set(rec.accepted.values()) == {1}
    assert rec.invalid == 0
    assert {row[1] for row in _outbox(con)} == {"delivered"}


def test_dry_run_writes_files_and_changes_nothing(
    con: duckdb.DuckDBPyConnection, secret: str, tmp_path: Path
) -> None:
    enqueue(con, [_row(i, t) for i, t in enumerate(sorted(EVENT_TYPES))])
    before = con.execute("select * from main.webhook_outbox order by webhook_id").fetchall()
    out = tmp_path / "dry"
    summary = deliver(con, None, secret, dry_run_dir=out)
    assert summary.dry_run_written == 5 and summary.attempts == 0
    assert con.execute("select * from main.webhook_outbox order by webhook_id").fetchall() == before
    for webhook_id, payload in con.execute(
        "select webhook_id, payload from main.webhook_outbox"
    ).fetchall():
        assert (out / f"{webhook_id}.json").read_text(encoding="utf-8") == payload
        headers = json.loads((out / f"{webhook_id}.headers.json").read_text())
        assert headers["webhook-id"] == webhook_id
        Webhook(secret).verify(payload, headers)  # the headers are what would be sent
    files = "".join(p.read_text(encoding="utf-8") for p in out.iterdir())
    assert secret not in files and secret[6:] not in files


def test_the_secret_never_appears_in_logs_output_or_the_outbox(
    monkeypatch: pytest.MonkeyPatch,
    con: duckdb.DuckDBPyConnection,
    receiver: tuple[Receiver, ReceiverThread],
    secret: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    rec, server = receiver
    rec.respond = lambda wid, n: (
        Reply(400) if wid.endswith(("0", "1", "2")) else (Reply(500) if n == 1 else Reply(200))
    )
    enqueue(con, [_row(i) for i in range(20)])
    caplog.set_level(logging.DEBUG)
    summaries = [
        deliver(con, server.url, secret, wait=2.0, progress=print, **FAST),
        deliver(con, server.url, secret, retry_dead=True, max_attempts=1, **FAST),
        deliver(con, None, secret, dry_run_dir=tmp_path / "dry"),
    ]
    for bad in ("whsec_***", ""):
        with pytest.raises(BillingError) as err:
            deliver(con, server.url, bad)
        print(err.value)
    print(summaries, WebhookSecret.parse(secret))
    out, err_text = capsys.readouterr()
    rows = json.dumps(
        [list(map(str, r)) for r in con.execute("select * from main.webhook_outbox").fetchall()]
    )
    haystacks = [caplog.text, out, err_text, rows, repr(summaries)]
    key_b64 = secret.removeprefix("whsec_")
    assert "webhook" in caplog.text  # the logs did say something
    for text in haystacks:
        assert secret not in text and key_b64 not in text and key_b64[:16] not in text


def test_a_killed_delivery_loses_nothing(
    warehouse_path: Path, receiver: tuple[Receiver, ReceiverThread], secret: str
) -> None:
    """kill -9 in the middle of a delivery run: the next run sends the rest (at worst a
    webhook arrives twice under the same id), and nothing is lost."""
    rec, server = receiver
    rec.respond = lambda wid, n: Reply(200, delay=0.05)
    with wh.connect(warehouse_path) as con:
        enqueue(con, [_row(i) for i in range(60)])
    script = (
        "import os, sys\n"
        "from billing import warehouse as wh\n"
        "from billing.webhooks import deliver\n"
        "con = wh.connect(sys.argv[1])\n"
        "deliver(con, sys.argv[2], os.environ['T_SECRET'], concurrency=2)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(warehouse_path), server.url],
        env={**os.environ, "T_SECRET": secret},
    )
    deadline = time.monotonic() + 30
    while len(rec.seen) < 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < len(rec.seen) < 60
    rec.respond = None
    with wh.connect(warehouse_path) as con:
        summary = deliver(con, server.url, secret, **FAST)
        assert {row[1] for row in _outbox(con)} == {"delivered"}
    assert summary.delivered >= 60 - len(rec.seen)
    assert len(set(rec.seen) | set(rec.accepted)) == 60


def test_deliver_checks_its_arguments(
    con: duckdb.DuckDBPyConnection, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BILLING_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("BILLING_WEBHOOK_URL", raising=False)
    with pytest.raises(BillingError, match="BILLING_WEBHOOK_URL"):
        deliver(con, None, secret)
    with pytest.raises(BillingError, match="URL"):
        deliver(con, "ftp://example.com/x", secret)
    with pytest.raises(BillingError, match="no webhook secret"):
        deliver(con, "http://127.0.0.1:9/x", None)
    with pytest.raises(BillingError, match="concurrency"):
        deliver(con, "http://127.0.0.1:9/x", secret, concurrency=0)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not-a-url", "expected http"),
        ("ftp://example.com/x", "expected http"),
        ("http://exa mple.com/h", "blank"),
        ("http://example.com/a b", "blank"),
        ("http://example.com:99999/h", "port"),
        ("http://example.com:0/h", "port"),
        ("http://example.com:http/h", "port"),
        ("http://exa%20mple.com/h", "bad host"),
        ("http://-bad-.example/h", "bad host"),
    ],
)
def test_a_bad_url_is_refused_before_anything_is_sent(url: str, reason: str) -> None:
    with pytest.raises(BillingError, match=reason) as refused:
        check_url(url)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hooks", "https://hooks.example.com/billing?x=1", "http://[::1]:9/x",
     "http://svc_webhooks:8000/in", "https://bücher.example/hook", "http://u:p@host.example/x"],
)
def test_good_urls_pass(url: str) -> None:
    assert check_url(url) == url


def test_due_time_is_respected(
    con: duckdb.DuckDBPyConnection, secret: str, receiver: tuple[Receiver, ReceiverThread]
) -> None:
    rec, server = receiver
    enqueue(con, [_row(1)], now=datetime.now(UTC) + timedelta(hours=1))
    assert deliver(con, server.url, secret, **FAST).attempts == 0
    assert not rec.seen


def test_url_and_secret_default_to_the_environment(
    con: duckdb.DuckDBPyConnection,
    receiver: tuple[Receiver, ReceiverThread],
    secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec, server = receiver
    monkeypatch.setenv("BILLING_WEBHOOK_URL", server.url)
    monkeypatch.setenv("BILLING_WEBHOOK_SECRET", secret)
    enqueue(con, [_row(1)])
    assert deliver(con, **FAST).delivered == 1
    assert len(rec.accepted) == 1 and rec.invalid == 0
