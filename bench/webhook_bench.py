"""Webhook delivery benchmark: N signed deliveries to a local verifying receiver.

Enqueues N webhooks (rendered from the real templates) into a temporary warehouse, starts
``billing.webhooks.receiver`` in another process on 127.0.0.1 (it verifies every signature
with the ``standardwebhooks`` library), runs ``deliver`` and prints deliveries per second.

    .venv/bin/python bench/webhook_bench.py --webhooks 5000 --concurrency 16
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from billing import warehouse as wh
from billing.webhooks import OutboxRow, deliver, enqueue

TARGET_PER_SECOND = 500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rows(n: int) -> list[OutboxRow]:
    return [
        OutboxRow(
            f"bench|billing.overage|{i}",
            "billing.overage",
            f"ent_{i % 50}",
            "org_1",
            f"usr_{i}",
            {
                "occurred_at": "2026-10-03T12:00:00Z",
                "entity_name": f"Entity {i % 50}",
                "organization_name": 'Org "One"',
                "user_name": f"User {i}",
                "user_email": f"user{i}@example.com",
                "period": "2026-10",
                "currency": "EUR",
                "credit_limit": "100.00",
                "drawn": "100.00",
                "overage_amount": "12.34",
                "event_id": f"evt_{i}",
            },
        )
        for i in range(n)
    ]


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit("receiver exited early")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("receiver did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--webhooks", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    port = _free_port()
    env = {**os.environ, "BENCH_WEBHOOK_SECRET": secret}
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "billing.webhooks.receiver",
            "--port",
            str(port),
            "--secret-env",
            "BENCH_WEBHOOK_SECRET",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, receiver)
        with tempfile.TemporaryDirectory(prefix="webhook_bench_") as tmp:
            con = wh.connect(Path(tmp) / "bench.duckdb")
            started = time.perf_counter()
            queued = enqueue(con, _rows(args.webhooks))
            enqueue_s = time.perf_counter() - started
            summary = deliver(
                con,
                f"http://127.0.0.1:{port}/webhooks",
                secret,
                concurrency=args.concurrency,
                timeout=10.0,
            )
            statuses = dict(
                con.execute(
                    "select status, count(*) from main.webhook_outbox group by 1"
                ).fetchall()
            )
            con.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats") as resp:
            stats = json.loads(resp.read())
    finally:
        receiver.terminate()
        receiver.wait(10)

    rate = summary.deliveries_per_second
    print(
        f"enqueued {queued} webhooks in {enqueue_s:.2f}s "
        f"({queued / enqueue_s:.0f}/s, rendered from templates)"
    )
    print(
        f"delivered {summary.delivered} in {summary.elapsed_seconds:.2f}s "
        f"with concurrency {args.concurrency}: {rate:.0f} signed deliveries/s "
        f"(target {TARGET_PER_SECOND}/s)"
    )
    print(
        f"receiver verified {stats['accepted']} ({stats['unique']} unique ids, "
        f"{stats['invalid']} invalid signatures); outbox: {statuses}"
    )
    ok = (
        rate >= TARGET_PER_SECOND
        and stats["invalid"] == 0
        and stats["unique"] == args.webhooks == statuses.get("delivered")
    )
    print("OK" if ok else "BELOW TARGET OR INCOMPLETE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
