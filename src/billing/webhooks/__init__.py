"""Webhooks to the permission system: payloads, the outbox, signing and delivery.

* :mod:`.payloads` renders a payload from its Jinja2 JSON template;
* :mod:`.outbox` records webhooks in ``main.webhook_outbox`` before any attempt to send them;
* :mod:`.signing` implements the Standard Webhooks signature scheme;
* :mod:`.deliver` sends the due webhooks concurrently, with retries and dead-lettering;
* :mod:`.settings` reads the receiver URL and secret from arguments or the environment.

The rules that decide *when* a webhook exists are in ``docs/webhooks.md``.
"""

from billing.webhooks.deliver import DeliverySummary, deliver, deliver_async
from billing.webhooks.outbox import OutboxRow, enqueue, queue_from_triggers, webhook_id_for
from billing.webhooks.payloads import EVENT_TYPES, render_payload
from billing.webhooks.settings import WebhookSettings, webhook_settings
from billing.webhooks.signing import WebhookSecret, sign

__all__ = [
    "EVENT_TYPES",
    "DeliverySummary",
    "OutboxRow",
    "WebhookSecret",
    "WebhookSettings",
    "deliver",
    "deliver_async",
    "enqueue",
    "queue_from_triggers",
    "render_payload",
    "sign",
    "webhook_id_for",
    "webhook_settings",
]
