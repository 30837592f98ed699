"""Where webhooks go: the receiver URL and signing secret, from arguments or the environment.

``BILLING_WEBHOOK_URL`` and ``BILLING_WEBHOOK_SECRET`` are read when the caller (the CLI's
``--url`` / ``--secret``) gives none. The secret is wrapped at once in a
:class:`~billing.webhooks.signing.WebhookSecret`, whose repr never shows it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from billing.errors import BillingError
from billing.webhooks.signing import WebhookSecret

URL_ENV = "BILLING_WEBHOOK_URL"
SECRET_ENV = "BILLING_WEBHOOK_SECRET"


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: WebhookSecret

    @property
    def display_url(self) -> str:
        return redact_url(self.url)


def redact_url(url: str) -> str:
    """The URL without credentials or query string, for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BillingError(
            f"webhook URL {redact_url(url)!r} is not valid: expected http(s)://host[:port]/path"
        )
    return url


def webhook_settings(
    url: str | None = None, secret: str | WebhookSecret | None = None
) -> WebhookSettings:
    """Settings from the arguments, falling back to the environment."""
    url = url or os.environ.get(URL_ENV)
    raw_secret = secret or os.environ.get(SECRET_ENV)
    if not url:
        raise BillingError(f"no webhook URL: pass --url or set {URL_ENV}")
    if not raw_secret:
        raise BillingError(f"no webhook secret: pass --secret or set {SECRET_ENV}")
    return WebhookSettings(url=check_url(url), secret=WebhookSecret.parse(raw_secret))
