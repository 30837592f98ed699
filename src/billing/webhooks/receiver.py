"""A small webhook receiver for tests, benchmarks and local demos (not for production).

It listens on 127.0.0.1, speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies),
verifies every POST with the ``standardwebhooks`` library and records what arrived. A
``respond`` hook scripts the answer per attempt (status, headers, delay), so tests can play a
receiver that fails, throttles, hangs or recovers. ``GET /stats`` returns the counts as JSON.

Run it standalone (the secret comes from the environment, never from argv)::

    BILLING_WEBHOOK_SECRET=whsec_... python -m billing.webhooks.receiver --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (to make a client time out)


@dataclass(frozen=True)
class Receipt:
    webhook_id: str
    webhook_timestamp: str
    body: bytes
    verified: bool
    status: int
    at: float  # time.monotonic() on arrival


#: respond(webhook_id, nth attempt of that id seen by this receiver, 1-based) -> Reply
Responder = Callable[[str, int], Reply]


class Receiver:
    """Verifies and records webhooks; answer 200 unless ``respond`` says otherwise."""

    def __init__(self, secret: str, respond: Responder | None = None) -> None:
        self._webhook = Webhook(secret)
        self.respond = respond
        self.receipts: list[Receipt] = []
        self.seen: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()  # verified and answered 2xx
        self.invalid = 0
        self.keep_receipts = True

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method == "GET" and path == "/stats":
            stats = {
                "accepted": sum(self.accepted.values()),
                "unique": len(self.accepted),
                "duplicates": sum(self.accepted.values()) - len(self.accepted),
                "invalid": self.invalid,
            }
            return Reply(200, {"x-body": json.dumps(stats)})
        if method != "POST":
            return Reply(405)
        webhook_id = headers.get("webhook-id", "")
        try:
            self._webhook.verify(body, headers, json_parse=False)
            verified = True
        except (WebhookVerificationError, ValueError):
            verified = False
        if not verified:
            self.invalid += 1
            reply = Reply(401)
        else:
            self.seen[webhook_id] += 1
            reply = self.respond(webhook_id, self.seen[webhook_id]) if self.respond else Reply()
            if 200 <= reply.status < 300 and reply.delay == 0:
                self.accepted[webhook_id] += 1
        if self.keep_receipts:
            self.receipts.append(
                Receipt(
                    webhook_id,
                    headers.get("webhook-timestamp", ""),
                    body,
                    verified,
                    reply.status,
                    time.monotonic(),
                )
            )
        return reply

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _version = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                reply = self.handle(method, path, headers, body)
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                out_body = reply.headers.get("x-body", "").encode()
                extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items() if k != "x-body")
                writer.write(
                    f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
                    f"content-length: {len(out_body)}\r\n{extra}\r\n".encode("latin-1")
                    + out_body
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()


class ReceiverThread:
    """Run a :class:`Receiver` on 127.0.0.1 in a background thread with its own event loop."""

    def __init__(self, receiver: Receiver, port: int = 0) -> None:
        self.receiver, self.port = receiver, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    def start(self) -> ReceiverThread:
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                self._writers.add(w)
                try:
                    await self.receiver.serve_connection(r, w)
                finally:
                    self._writers.discard(w)

            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(serve, "127.0.0.1", self.port, reuse_address=True)
                )
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=main, name="webhook-receiver", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection (the receiver goes down)."""
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def shutdown() -> None:
            server.close()
            for w in list(self._writers):
                w.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = self._server = None

    def __enter__(self) -> ReceiverThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _serve_forever(receiver: Receiver, port: int) -> None:
    server = await asyncio.start_server(
        receiver.serve_connection, "127.0.0.1", port, reuse_address=True, backlog=1024
    )
    print(f"listening on http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--secret-env",
        default="BILLING_WEBHOOK_SECRET",
        help="environment variable holding the whsec_ secret",
    )
    args = parser.parse_args()
    secret = os.environ.get(args.secret_env)
    if not secret:
        parser.error(f"set {args.secret_env} to the whsec_ secret")
    receiver = Receiver(secret)
    receiver.keep_receipts = False
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(receiver, args.port))


if __name__ == "__main__":
    main()
