"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

The secret is ``whsec_`` + base64 of the key bytes, as the Standard Webhooks libraries read
it. A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds of the attempt) and
``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")).

:class:`WebhookSecret` holds the key and never shows it: its ``repr``/``str`` are masked and
no error message quotes it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from billing.errors import BillingError

SECRET_PREFIX = "whsec_"


class WebhookSecret:
    """The signing key. ``str()``/``repr()`` never reveal it."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not key:
            raise BillingError("webhook secret is empty")
        self._key = bytes(key)

    @classmethod
    def parse(cls, secret: str | WebhookSecret) -> WebhookSecret:
        """Read ``whsec_<base64>`` (the prefix is optional, as in the Standard Webhooks libs)."""
        if isinstance(secret, WebhookSecret):
            return secret
        text = secret.strip()
        if text.startswith(SECRET_PREFIX):
            text = text[len(SECRET_PREFIX) :]
        text = text.rstrip("=")
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise BillingError(
                "webhook secret is not valid: expected 'whsec_' followed by base64"
            ) from None
        return cls(key)

    def signature(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "WebhookSecret('whsec_****')"

    __str__ = __repr__

    def __reduce__(self) -> object:  # never pickle the key into a file by accident
        raise TypeError("WebhookSecret cannot be pickled")


def sign(secret: WebhookSecret, webhook_id: str, timestamp: int, body: str | bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    payload = body.encode() if isinstance(body, str) else body
    to_sign = f"{webhook_id}.{timestamp}.".encode() + payload
    return "v1," + base64.b64encode(secret.signature(to_sign)).decode("ascii")


def signed_headers(
    secret: WebhookSecret | None, webhook_id: str, timestamp: int, body: str | bytes
) -> dict[str, str]:
    """The headers of one attempt (without a signature when there is no secret: dry runs)."""
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
    }
    if secret is not None:
        headers["webhook-signature"] = sign(secret, webhook_id, timestamp, body)
    return headers
