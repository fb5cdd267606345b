"""The headers of a delivery: Standard Webhooks' signature and CloudEvents' binary mode.

Signing uses the official `standardwebhooks` library, so what a receiver verifies with
it is exactly what was signed here. During a rotation both secrets sign, their
signatures space-separated in `webhook-signature`, as the specification allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from notifications.webhooks.models import Delivery

SPECVERSION = "1.0"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def headers(
    delivery: Delivery, body: bytes, secrets: Sequence[str], now: datetime
) -> dict[str, str]:
    """Every header of one attempt of `delivery` carrying `body`, signed with `secrets`."""
    moment = now.replace(microsecond=0)
    text = body.decode()
    signatures = " ".join(
        Webhook(secret).sign(msg_id=delivery.event_id, timestamp=moment, data=text)
        for secret in secrets
    )
    return {
        "content-type": "application/json",
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signatures,
        "ce-id": delivery.event_id,
        "ce-specversion": SPECVERSION,
        "ce-source": delivery.source,
        "ce-type": delivery.event_type,
        "ce-time": _rfc3339(delivery.event_time),
        "ce-subject": delivery.subject,
    }
