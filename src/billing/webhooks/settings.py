"""Where webhooks go: the receiver URL and signing secret, from arguments or the environment.

``BILLING_WEBHOOK_URL`` and ``BILLING_WEBHOOK_SECRET`` are read when the caller (the CLI's
``--url`` / ``--secret``) gives none. The secret is wrapped at once in a
:class:`~billing.webhooks.signing.WebhookSecret`, whose repr never shows it.
"""

from __future__ import annotations

import ipaddress
import os
import re
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
    netloc = parts.netloc.rpartition("@")[2]  # the port as given, even an invalid one
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


#: One DNS label (underscores allowed: internal service names use them).
_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$")


def check_url(url: str) -> str:
    """An http(s) URL with a valid host and port and no blanks; else a one-line reason."""
    shown = redact_url(url)
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BillingError(
            f"webhook URL {shown!r} is not valid: expected http(s)://host[:port]/path"
        )
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise BillingError(
            f"webhook URL {shown!r} is not valid: it holds a blank or control character "
            f"(write a space in a path as %20)"
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise BillingError(
            f"webhook URL {shown!r} is not valid: the port must be a number from 1 to 65535"
        )
    if not _valid_host(parts.hostname):
        raise BillingError(f"webhook URL {shown!r} is not valid: bad host {parts.hostname!r}")
    return url


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return all(len(label) <= 63 and _LABEL.match(label) for label in labels)


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
