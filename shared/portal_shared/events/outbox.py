"""The transactional outbox: an event row written in the same transaction as its change.

The table is created by each service's first migration (`portal_shared.migrations`);
a statement-level trigger NOTIFYs the relay, so an event leaves as soon as its
transaction commits and never if it rolls back.
"""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from portal_shared.events.envelope import CloudEvent
from portal_shared.logging import request_id_var
from portal_shared.tracing import current_trace_headers

__all__ = [
    "EVENT_COLUMNS",
    "NOTIFY_CHANNEL",
    "add_event",
    "event_row",
    "event_values",
    "new_event",
    "outbox",
]

NOTIFY_CHANNEL = "portal_outbox"

# The columns an event fills, in one order: `event_row`, `event_values`, the table
# construct below and any hand-written INSERT (requests' submission runs on asyncpg) all
# follow this list, so a new column reaches every writer or none.
EVENT_COLUMNS: Final = (
    "event_id",
    "topic",
    "key",
    "type",
    "source",
    "subject",
    "data",
    "request_id",
    "traceparent",
    "tracestate",
    "occurred_at",
)

# A lightweight table construct: the outbox belongs to no service's ORM metadata,
# yet every service writes it the same way.
outbox = sa.table(
    "outbox",
    sa.column("id", sa.BigInteger),
    sa.column("event_id", sa.Uuid),
    sa.column("topic", sa.Text),
    sa.column("key", sa.Text),
    sa.column("type", sa.Text),
    sa.column("source", sa.Text),
    sa.column("subject", sa.Text),
    sa.column("data", JSONB),
    sa.column("request_id", sa.Text),
    sa.column("traceparent", sa.Text),
    sa.column("tracestate", sa.Text),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("published_at", sa.DateTime(timezone=True)),
)


def event_row(topic: str, key: str, event: CloudEvent) -> dict[str, Any]:
    """The outbox row of `event`, keyed by EVENT_COLUMNS."""
    return dict(zip(EVENT_COLUMNS, event_values(topic, key, event), strict=True))


def event_values(topic: str, key: str, event: CloudEvent) -> tuple[Any, ...]:
    """The outbox row of `event` as values in EVENT_COLUMNS order, for a raw INSERT."""
    return (
        event.id,
        topic,
        key,
        event.type,
        event.source,
        event.subject,
        event.data,
        event.request_id,
        event.traceparent,
        event.tracestate,
        event.time,
    )


def new_event(
    *, type: str, source: str, key: str, data: dict[str, Any], subject: str | None = None
) -> CloudEvent:
    """An event carrying the current HTTP request id and trace context; its subject defaults
    to the key."""
    traceparent, tracestate = current_trace_headers()
    return CloudEvent(
        type=type,
        source=source,
        subject=subject if subject is not None else key,
        data=data,
        request_id=request_id_var.get(),
        traceparent=traceparent,
        tracestate=tracestate,
    )


async def add_event(
    session: AsyncSession,
    *,
    topic: str,
    key: str,
    type: str,
    source: str,
    data: dict[str, Any],
    subject: str | None = None,
) -> CloudEvent:
    """Queue an event in the caller's transaction; it is published only if that commits."""
    event = new_event(type=type, source=source, key=key, data=data, subject=subject)
    await session.execute(sa.insert(outbox).values(**event_row(topic, key, event)))
    return event
