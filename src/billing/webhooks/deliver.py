"""Send the outbox's due webhooks to the permission system, signed, concurrently, with retries.

How one ``deliver`` call works (docs/webhooks.md has the full rules):

* Due rows (``status = 'pending'`` and ``next_attempt_at <= now``) are fetched in batches.
  Before a batch is sent its ``attempts`` are incremented in the outbox (the attempt is on
  record before the request leaves), so a ``kill -9`` mid-delivery loses nothing: the rows are
  still ``pending`` and are sent again, under the same ``webhook-id``, by the next run.
* Requests go out concurrently from ``concurrency`` workers, each with its own one-connection
  ``httpx.AsyncClient`` (a bounded pool of keep-alive connections); every attempt is signed
  afresh with its own ``webhook-timestamp`` but keeps the row's ``webhook-id``.
* Outcomes are written back from the event loop only (DuckDB has one writer), in batches:
  2xx -> ``delivered``; 5xx, 408, 429, timeouts and connection errors -> retried after an
  exponential backoff with jitter (``Retry-After`` honoured); any other status -> ``dead`` at
  once; a retryable failure on the ``max_attempts``-th attempt -> ``dead``.
* ``wait`` is how long the call keeps retrying rows that become due again before it returns
  with the rest still pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa

from billing.errors import BillingError
from billing.webhooks.outbox import OUTBOX
from billing.webhooks.settings import SECRET_ENV, redact_url, webhook_settings
from billing.webhooks.signing import WebhookSecret, signed_headers

log = logging.getLogger("billing.webhooks")

#: Statuses that are retried besides every 5xx.
RETRYABLE_STATUS = frozenset({408, 429})
#: A Retry-After longer than this is cut to it (a receiver cannot park a webhook for weeks).
MAX_RETRY_AFTER = 24 * 3600.0


@dataclass
class DeliverySummary:
    """What one ``deliver`` call did. Holds no URL credentials and no secret."""

    attempts: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    revived: int = 0
    dry_run_written: int = 0
    pending: int = 0
    elapsed_seconds: float = 0.0
    status_codes: Counter[str] = field(default_factory=Counter)

    @property
    def retrying(self) -> int:
        """Webhooks still pending when the call returned (a later run retries them)."""
        return self.pending

    @property
    def written(self) -> int:
        return self.dry_run_written

    @property
    def deliveries_per_second(self) -> float:
        return self.delivered / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def line(self) -> str:
        """A one-line human summary."""
        return (
            f"{self.delivered} delivered, {self.retried} to retry, {self.dead} dead, "
            f"{self.pending} pending, {self.attempts} attempts in {self.elapsed_seconds:.2f}s"
            + (f", {self.dry_run_written} written (dry run)" if self.dry_run_written else "")
            + (f", {self.revived} dead revived" if self.revived else "")
        )


@dataclass(frozen=True)
class _Due:
    webhook_id: str
    payload: str
    attempts: int  # including the attempt being made


@dataclass(frozen=True)
class _Outcome:
    webhook_id: str
    status: str  # delivered / pending / dead
    status_code: int | None
    error: str | None
    at: datetime
    next_attempt_at: datetime | None


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after the ``attempt``-th failed attempt (1-based): exponential with
    "equal jitter": half of min(cap, base * 2**(attempt-1)) plus a uniform random share of
    the other half, so delays grow with every attempt yet retries of many webhooks spread out.
    """
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def is_retryable(status_code: int) -> bool:
    return status_code >= 500 or status_code in RETRYABLE_STATUS


class _Run:
    """One delivery run: the only code that touches the connection while requests fly."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        url: str,
        secret: WebhookSecret,
        *,
        concurrency: int,
        max_attempts: int,
        base_backoff: float,
        max_backoff: float,
        timeout: float,
        wait: float,
        progress: Callable[[DeliverySummary], None] | None,
        rng: random.Random,
    ) -> None:
        self.con, self.url, self.secret = con, url, secret
        self.concurrency, self.max_attempts = concurrency, max_attempts
        self.base_backoff, self.max_backoff = base_backoff, max_backoff
        self.timeout, self.wait, self.progress, self.rng = timeout, wait, progress, rng
        self.summary = DeliverySummary()
        self.results: list[_Outcome] = []
        self.flush_every = 256

    # -- the outbox ------------------------------------------------------------------------

    def fetch_due(
        self, limit: int, busy: set[str], due_by: datetime | None = None
    ) -> list[_Due]:
        """Claim up to ``limit`` pending rows due by ``due_by`` (default: now), not in ``busy``."""
        now = datetime.now(UTC) if due_by is None else due_by
        rows = self.con.execute(
            f"""
            select webhook_id, payload, attempts
            from {OUTBOX}
            where status = 'pending' and next_attempt_at <= $now
              and not list_contains(cast($busy as varchar[]), webhook_id)
            order by next_attempt_at, created_at, webhook_id
            limit $limit
            """,
            {"now": now, "busy": sorted(busy), "limit": limit},
        ).fetchall()
        if not rows:
            return []
        ids = [r[0] for r in rows]
        self._update_from(
            pa.table({"webhook_id": pa.array(ids, pa.string())}),
            "attempts = o.attempts + 1",
        )
        return [_Due(wid, payload, attempts + 1) for wid, payload, attempts in rows]

    def flush(self) -> None:
        if not self.results:
            return
        results, self.results = self.results, []
        table = pa.table(
            {
                "webhook_id": pa.array([r.webhook_id for r in results], pa.string()),
                "status": pa.array([r.status for r in results], pa.string()),
                "status_code": pa.array([r.status_code for r in results], pa.int32()),
                "error": pa.array([r.error for r in results], pa.string()),
                "delivered_at": pa.array(
                    [r.at if r.status == "delivered" else None for r in results],
                    pa.timestamp("us", tz="UTC"),
                ),
                "next_attempt_at": pa.array(
                    [r.next_attempt_at for r in results], pa.timestamp("us", tz="UTC")
                ),
            }
        )
        self._update_from(
            table,
            """status = r.status,
               last_status_code = r.status_code,
               last_error = r.error,
               delivered_at = coalesce(r.delivered_at, o.delivered_at),
               next_attempt_at = coalesce(r.next_attempt_at, o.next_attempt_at)""",
        )
        if self.progress is not None:
            self.progress(replace(self.summary, status_codes=Counter(self.summary.status_codes)))

    def _update_from(self, table: pa.Table, assignments: str) -> None:
        self.con.register("_webhook_batch", table)
        try:
            self.con.execute(
                f"update {OUTBOX} as o set {assignments} "
                "from _webhook_batch as r where o.webhook_id = r.webhook_id"
            )
        finally:
            self.con.unregister("_webhook_batch")

    def next_due_at(self) -> datetime | None:
        row = self.con.execute(
            f"select min(next_attempt_at) from {OUTBOX} where status = 'pending'"
        ).fetchone()
        return row[0] if row else None

    # -- one attempt -----------------------------------------------------------------------

    async def send(self, client: httpx.AsyncClient, due: _Due) -> _Outcome:
        body = due.payload.encode("utf-8")
        headers = signed_headers(self.secret, due.webhook_id, int(time.time()), body)
        retry_after: float | None = None
        try:
            response = await client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            code, error = None, f"timeout ({type(exc).__name__})"
        except httpx.TransportError as exc:
            code, error = None, f"connection error ({type(exc).__name__})"
        else:
            code, error = response.status_code, None
            if not 200 <= code < 300:
                error = f"HTTP {code}"
            retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        return self.outcome(due, code, error, retry_after)

    def outcome(
        self, due: _Due, code: int | None, error: str | None, retry_after: float | None
    ) -> _Outcome:
        now = datetime.now(UTC)
        s = self.summary
        s.attempts += 1
        s.status_codes[str(code) if code is not None else "error"] += 1
        if code is not None and 200 <= code < 300:
            s.delivered += 1
            log.debug("webhook %s delivered (HTTP %s)", due.webhook_id, code)
            return _Outcome(due.webhook_id, "delivered", code, None, now, None)
        retryable = code is None or is_retryable(code)
        if retryable and due.attempts < self.max_attempts:
            delay = backoff_delay(due.attempts, self.base_backoff, self.max_backoff, self.rng)
            if retry_after is not None:
                delay = max(delay, retry_after)
            s.retried += 1
            log.debug("webhook %s: %s, retry in %.3fs", due.webhook_id, error, delay)
            return _Outcome(
                due.webhook_id, "pending", code, error, now, now + timedelta(seconds=delay)
            )
        s.dead += 1
        why = "gave up after %d attempts" if retryable else "not retryable (attempt %d)"
        log.warning("webhook %s dead: %s, " + why, due.webhook_id, error, due.attempts)
        return _Outcome(due.webhook_id, "dead", code, error, now, None)

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> DeliverySummary:
        """Feed due rows to ``concurrency`` workers; each owns a one-connection client (a
        shared httpx pool costs more CPU per request as it grows), so at most
        ``concurrency`` requests are in flight."""
        # The call sends what falls due until the end of its `wait` window, nothing later: a row
        # that failed in this call is due again after its backoff, so without a wait it stays
        # pending for the next call even when the call was busy past that backoff.
        started = time.monotonic()
        window_end = datetime.now(UTC) + timedelta(seconds=self.wait)
        batch_size = max(256, self.concurrency * 16)
        # One TLS context for all workers: building one per client costs ~40 ms each.
        tls = httpx.create_ssl_context()
        queue: asyncio.Queue[_Due | None] = asyncio.Queue()
        busy: set[str] = set()  # fetched, not yet written back
        wake = asyncio.Event()

        async def worker() -> None:
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            async with httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                limits=limits,
                follow_redirects=False,
                verify=tls,
            ) as client:
                while (due := await queue.get()) is not None:
                    outcome = await self.send(client, due)
                    self.results.append(outcome)  # not before the await: flush swaps the list
                    if len(self.results) >= self.flush_every or queue.empty():
                        wake.set()

        workers = [asyncio.create_task(worker()) for _ in range(self.concurrency)]
        last_empty_fetch = -1.0
        try:
            while True:
                answered = len(self.results)
                if answered and (answered >= self.flush_every or answered == len(busy)):
                    busy.difference_update(r.webhook_id for r in self.results)
                    self.flush()
                now_mono = time.monotonic()
                if queue.qsize() < batch_size // 2 and now_mono - last_empty_fetch >= 0.05:
                    busy.difference_update(r.webhook_id for r in self.results)
                    self.flush()
                    batch = self.fetch_due(batch_size, busy, min(datetime.now(UTC), window_end))
                    for due in batch:
                        busy.add(due.webhook_id)
                        queue.put_nowait(due)
                    last_empty_fetch = now_mono if not batch else -1.0
                if not busy:
                    next_due = self.next_due_at()
                    if next_due is None or next_due > window_end:
                        break
                    sleep = (next_due - datetime.now(UTC)).total_seconds()
                    await asyncio.sleep(max(sleep, 0.0))
                    last_empty_fetch = -1.0
                    continue
                # No await since the checks above, so no worker could have set `wake` yet.
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=0.05)
        finally:
            # On cancellation or error, record what finished; unsent rows stay pending.
            for _ in workers:
                queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(
                    asyncio.gather(*workers, return_exceptions=True), timeout=self.timeout + 5
                )
            self.flush()
        self.summary.elapsed_seconds = time.monotonic() - started
        return self.summary


def _revive_dead(con: duckdb.DuckDBPyConnection) -> int:
    (count,) = con.execute(
        f"""update {OUTBOX}
            set status = 'pending', attempts = 0, next_attempt_at = $now, last_error = null
            where status = 'dead'""",
        {"now": datetime.now(UTC)},
    ).fetchone()
    return int(count)


def _dry_run(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    secret: WebhookSecret | None,
    *,
    include_dead: bool,
) -> DeliverySummary:
    started = time.monotonic()
    statuses = ["pending", "dead"] if include_dead else ["pending"]
    rows = con.execute(
        f"""select webhook_id, payload from {OUTBOX}
            where list_contains($statuses, status)
              and (status = 'dead' or next_attempt_at <= $now)
            order by next_attempt_at, created_at, webhook_id""",
        {"statuses": statuses, "now": datetime.now(UTC)},
    ).fetchall()
    directory.mkdir(parents=True, exist_ok=True)
    timestamp = int(time.time())
    for webhook_id, payload in rows:
        body = payload.encode("utf-8")
        (directory / f"{webhook_id}.json").write_bytes(body)
        headers = signed_headers(secret, webhook_id, timestamp, body)
        (directory / f"{webhook_id}.headers.json").write_text(
            json.dumps(headers, indent=2) + "\n", encoding="utf-8"
        )
    summary = DeliverySummary(dry_run_written=len(rows), pending=_count_pending(con))
    summary.elapsed_seconds = time.monotonic() - started
    return summary


def _count_pending(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(f"select count(*) from {OUTBOX} where status = 'pending'").fetchone()
    return int(row[0]) if row else 0


async def deliver_async(
    con: duckdb.DuckDBPyConnection,
    url: str | None = None,
    secret: str | WebhookSecret | None = None,
    *,
    concurrency: int = 16,
    max_attempts: int = 8,
    base_backoff: float = 1.0,
    max_backoff: float = 300.0,
    timeout: float = 10.0,
    retry_dead: bool = False,
    dry_run_dir: Path | str | None = None,
    wait: float = 0.0,
    progress: Callable[[DeliverySummary], None] | None = None,
    seed: int | None = None,
) -> DeliverySummary:
    """Async form of :func:`deliver` (for callers that already run an event loop)."""
    if concurrency < 1:
        raise BillingError("deliver: concurrency must be at least 1")
    if max_attempts < 1:
        raise BillingError("deliver: max_attempts must be at least 1")
    if min(base_backoff, max_backoff, timeout, wait) < 0 or timeout == 0:
        raise BillingError("deliver: backoffs and wait must be >= 0, timeout > 0")
    if dry_run_dir is not None:
        raw_secret = secret or os.environ.get(SECRET_ENV)
        key = WebhookSecret.parse(raw_secret) if raw_secret else None
        return _dry_run(con, Path(dry_run_dir), key, include_dead=retry_dead)
    # URL and secret default to BILLING_WEBHOOK_URL / BILLING_WEBHOOK_SECRET, so a caller
    # (the CLI's Prefect flow) need not pass the secret through anything that records it.
    settings = webhook_settings(url, secret)
    url, key = settings.url, settings.secret
    revived = _revive_dead(con) if retry_dead else 0
    log.info("delivering webhooks to %s (concurrency %d)", redact_url(url), concurrency)
    run = _Run(
        con,
        url,
        key,
        concurrency=concurrency,
        max_attempts=max_attempts,
        base_backoff=base_backoff,
        max_backoff=max_backoff,
        timeout=timeout,
        wait=wait,
        progress=progress,
        rng=random.Random(seed),
    )
    summary = await run.run()
    summary.revived = revived
    summary.pending = _count_pending(con)
    log.info("webhooks: %s", summary.line())
    return summary


def deliver(
    con: duckdb.DuckDBPyConnection,
    url: str | None = None,
    secret: str | WebhookSecret | None = None,
    **options: Any,
) -> DeliverySummary:
    """Send the due pending webhooks of ``main.webhook_outbox`` to ``url``, signed with
    ``secret`` (``whsec_...``), and return what happened. ``url``/``secret`` default to the
    environment variables ``BILLING_WEBHOOK_URL`` / ``BILLING_WEBHOOK_SECRET``.

    ``retry_dead`` first turns every ``dead`` row back into ``pending`` with 0 attempts.
    ``dry_run_dir`` writes each due payload to ``<dir>/<webhook_id>.json`` and the headers it
    would carry to ``<dir>/<webhook_id>.headers.json`` and changes nothing in the outbox.
    ``wait`` (seconds) keeps the call retrying rows that fall due again within that window.
    ``seed`` makes the jitter reproducible. ``options`` are those of :func:`deliver_async`.
    """
    return asyncio.run(deliver_async(con, url, secret, **options))
