"""The outbox relay: publishes committed events to Kafka in order per key.

Each batch is claimed with `FOR UPDATE SKIP LOCKED`, and each key with a
transaction-level advisory lock, so several relays (one per replica) can run
against one database: they share out the keys, and a key is never published by
two relays at once, which keeps its events in order. Rows are marked published
only after the broker acknowledged them; a relay that dies in between leaves
them to be published again, and consumers drop the duplicate by `ce_id`.

Every few seconds, whatever the broker's state, the relay also measures how long the oldest
unpublished row has waited (`portal_outbox_oldest_unsent_age_seconds`): the one number that
says consumers are hearing of changes late, which the outbox alerts read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_shared.db import asyncpg_dsn
from portal_shared.events.clients import stop_client
from portal_shared.events.envelope import CloudEvent
from portal_shared.events.outbox import NOTIFY_CHANNEL
from portal_shared.tracing import context_from

log = structlog.get_logger(__name__)

EVENTS_PUBLISHED = Counter("portal_outbox_published_total", "Outbox events published", ["topic"])
RELAY_ERRORS = Counter("portal_outbox_relay_errors_total", "Relay cycles that failed", ["reason"])
OLDEST_UNSENT_AGE = Gauge(
    "portal_outbox_oldest_unsent_age_seconds",
    "How long the oldest outbox event not yet published has waited (0 when none waits)",
)

# Namespace for the per-key advisory locks (the two-key form keeps them apart
# from any other advisory lock a service might take).
_LOCK_NAMESPACE = 0x0B4C

_CLAIM = text(
    """
    SELECT id, event_id, topic, key, type, source, subject, data, request_id, traceparent,
        tracestate, occurred_at
    FROM outbox
    WHERE published_at IS NULL
      AND pg_try_advisory_xact_lock(:ns, hashtext(key))
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
# The unsent rows' partial index gives the first by id, which is also the oldest.
_OLDEST_UNSENT = text(
    """
    SELECT greatest(EXTRACT(EPOCH FROM now() - occurred_at), 0)
    FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 1
    """
)
_MARK = text("UPDATE outbox SET published_at = now() WHERE id = ANY(:ids)")
_PURGE = text("DELETE FROM outbox WHERE published_at < now() - make_interval(secs => :secs)")


def make_producer(bootstrap_servers: str, *, idempotence: bool) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=idempotence,
        # Fail a send in bounded time while the broker is away; the relay retries.
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
        linger_ms=0,
    )


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer_factory: Callable[[], AIOKafkaProducer],
        *,
        batch_size: int = 500,
        poll_interval: float = 5.0,
        retention: timedelta = timedelta(days=7),
        measure_interval: float = 5.0,
        tracer: Tracer | None = None,
    ) -> None:
        self.engine = engine
        self.producer_factory = producer_factory
        self.producer: AIOKafkaProducer | None = None
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retention = retention
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._last_purge = 0.0
        self.measure_interval = measure_interval
        self._last_measure = float("-inf")
        self.tracer = tracer

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many events were published."""
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(_CLAIM, {"ns": _LOCK_NAMESPACE, "limit": self.batch_size})
            ).all()
            if not rows:
                return 0
            sent = await self._send(rows)
            await self.before_mark(sent)
            if sent:
                await conn.execute(_MARK, {"ids": sent})
        return len(sent)

    async def before_mark(self, ids: list[int]) -> None:
        """Runs after the broker acknowledged `ids` and before they are marked; a seam for
        fault-injection tests that kill the relay exactly here."""

    async def _send(self, rows: Sequence[Any]) -> list[int]:
        if self.producer is None:
            raise RuntimeError("the relay's producer is not started")
        futures = []
        spans: list[Span | None] = []
        for row in rows:
            event = CloudEvent(
                id=str(row.event_id),
                type=row.type,
                source=row.source,
                subject=row.subject,
                data=row.data,
                time=row.occurred_at,
                request_id=row.request_id,
                traceparent=row.traceparent,
                tracestate=row.tracestate,
            )
            spans.append(self._publish_span(row.topic, event))
            fut = await self.producer.send(
                row.topic, value=event.value(), key=row.key.encode(), headers=event.headers()
            )
            futures.append(fut)
        results = await asyncio.gather(*futures, return_exceptions=True)
        for span, result in zip(spans, results, strict=True):
            if span is not None:
                if isinstance(result, BaseException):
                    span.set_status(Status(StatusCode.ERROR, type(result).__name__))
                span.end()
        sent: list[int] = []
        failed_keys: set[str] = set()
        for row, result in zip(rows, results, strict=True):
            # After a failure, later events of the same key stay unsent so that a
            # retry cannot mark them done ahead of the one before them.
            if isinstance(result, BaseException) or row.key in failed_keys:
                failed_keys.add(row.key)
                continue
            sent.append(row.id)
            EVENTS_PUBLISHED.labels(row.topic).inc()
        if failed_keys:
            first = next(r for r in results if isinstance(r, BaseException))
            log.warning("relay_send_failed", keys=len(failed_keys), error=repr(first))
            RELAY_ERRORS.labels("send").inc()
        return sent

    def _publish_span(self, topic: str, event: CloudEvent) -> Span | None:
        """A PRODUCER span in the event's own trace, from the send to the broker's answer:
        how long the event waited in the outbox shows as the gap before it. The message
        keeps the context the event was made in (`ce_traceparent`), as the CloudEvents
        distributed-tracing extension asks."""
        if self.tracer is None:
            return None
        parent = context_from(event.traceparent, event.tracestate)
        if parent is None:
            return None
        return self.tracer.start_span(
            f"{topic} publish",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
                "messaging.message.id": event.id,
                "cloudevents.event_type": event.type,
            },
        )

    async def _ensure_listener(self) -> None:
        if self._listener is not None:
            if not self._listener.is_closed():
                return
            self._listener.terminate()  # a listener the database dropped; release it
        url = self.engine.url.render_as_string(hide_password=False)
        self._listener = await asyncpg.connect(asyncpg_dsn(url))
        await self._listener.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())

    async def _ensure_producer(self) -> None:
        if self.producer is not None:
            return
        # A producer whose start failed is not reused: aiokafka leaves it half-made.
        producer = self.producer_factory()
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self.producer = producer

    async def _purge(self) -> None:
        if time.monotonic() - self._last_purge < 3600:
            return
        async with self.engine.begin() as conn:
            await conn.execute(_PURGE, {"secs": self.retention.total_seconds()})
        self._last_purge = time.monotonic()

    async def measure_backlog(self) -> float:
        """Set and return the age in seconds of the oldest unsent event (0 when none)."""
        async with self.engine.connect() as conn:
            age = float(await conn.scalar(_OLDEST_UNSENT) or 0.0)
        OLDEST_UNSENT_AGE.set(age)
        return age

    async def _measure_now_and_then(self) -> None:
        if time.monotonic() - self._last_measure < self.measure_interval:
            return
        self._last_measure = time.monotonic()
        try:
            await self.measure_backlog()
        except Exception as exc:  # the database is away: the cycle below says so too
            log.debug("relay_measure_failed", error=repr(exc))

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            # Before the broker is needed, so that a broker outage still shows as a backlog.
            await self._measure_now_and_then()
            try:
                await self._ensure_producer()
                await self._ensure_listener()
                self._wake.clear()
                published = await self.publish_pending()
                await self._purge()
                backoff = 0.1
                if published:
                    continue  # more may be waiting; a quiet outbox ends the streak
                await _wait_any(self._wake, stop, seconds=self.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker or database is away: wait, then retry
                RELAY_ERRORS.labels(type(exc).__name__).inc()
                log.warning("relay_retry", error=repr(exc), backoff=backoff)
                if self._listener is not None:
                    self._listener.terminate()
                    self._listener = None
                await _wait_any(stop, seconds=backoff)
                backoff = min(backoff * 2, 5.0)

    async def aclose(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        if self.producer is not None:
            await stop_client(self.producer)


async def _wait_any(*events: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
