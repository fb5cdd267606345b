"""The idempotent consumer: each event's effect is applied once, or dead-lettered.

The event's `ce_id` is recorded in `processed_events` in the same transaction as
its effect, and the offset is committed only after that transaction: a redelivery
finds the id and changes nothing. A handler that keeps failing is retried a set
number of times, then the message goes to `<topic>.dlq` with the error in its
headers and the partition moves on. A database outage is not the message's
fault: it is retried until the database is back, never dead-lettered.

Each poll also reports the consumer's lag per partition it holds
(`portal_consumer_lag_messages`: the partition's end offset minus what this consumer has
handled), counting a fetched batch as waiting until it is handled.

A consumer may also be given a batch handler (opt-in): each partition's fetched batch is
then applied in ONE transaction, its new events found by one multi-row insert into
`processed_events`, which pays one commit for the batch instead of one per event. A batch
whose transaction fails for any reason but a database outage is applied again event by
event with the per-event handlers, so a poison event is retried and dead-lettered alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from opentelemetry.trace import SpanKind, Tracer
from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_shared.errors import is_database_outage
from portal_shared.events.clients import stop_client
from portal_shared.events.envelope import CloudEvent, MalformedEvent
from portal_shared.events.topics import dlq
from portal_shared.logging import request_id_var
from portal_shared.tracing import context_from

log = structlog.get_logger(__name__)

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
# Applies events not seen before (each one's type has a per-event handler), in order, in
# the transaction that records them.
BatchHandler = Callable[[AsyncSession, Sequence[CloudEvent]], Awaitable[None]]

EVENTS_CONSUMED = Counter(
    "portal_events_consumed_total", "Events taken from Kafka", ["group", "outcome"]
)
CONSUMER_LAG = Gauge(
    "portal_consumer_lag_messages",
    "Events in a partition this consumer holds that it has not handled yet",
    ["group", "topic", "partition"],
)

_RECORD = text(
    """
    INSERT INTO processed_events (consumer, event_id, topic, partition, "offset")
    VALUES (:consumer, :event_id, :topic, :partition, :offset)
    ON CONFLICT DO NOTHING
    RETURNING event_id
    """
)
# The same for a whole batch of one partition: what it returns is the ids not seen before.
_RECORD_MANY = text(
    """
    INSERT INTO processed_events (consumer, event_id, topic, partition, "offset")
    SELECT :consumer, u.event_id, :topic, :partition, u."offset"
    FROM unnest(CAST(:event_ids AS text[]), CAST(:offsets AS bigint[])) AS u(event_id, "offset")
    ON CONFLICT DO NOTHING
    RETURNING event_id
    """
)


class EventConsumer:
    def __init__(
        self,
        *,
        group_id: str,
        bootstrap_servers: str,
        topics: Sequence[str],
        handlers: Mapping[str, Handler],
        sessionmaker: async_sessionmaker[AsyncSession],
        producer_factory: Callable[[], AIOKafkaProducer],
        max_attempts: int = 5,
        retry_backoff: float = 0.2,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        fetch_max_wait_ms: int = 20,
        tracer: Tracer | None = None,
        batch_handler: BatchHandler | None = None,
        on_applied: Callable[[], None] | None = None,
    ) -> None:
        self.group_id = group_id
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics)
        self.handlers = dict(handlers)
        self.sessionmaker = sessionmaker
        self.producer_factory = producer_factory
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self.assigned = asyncio.Event()
        self._lag_reported: set[TopicPartition] = set()
        self.tracer = tracer
        self.batch_handler = batch_handler
        # Called after a transaction that applied new events committed (e.g. to wake a
        # worker that acts on what they wrote, rather than have it poll).
        self.on_applied = on_applied

    def _make_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            # The embedded broker keeps no offsets across restarts; start from the
            # beginning and let the processed-events table drop what was seen.
            auto_offset_reset="earliest",
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            max_poll_records=200,
            # Bounds how long a new event can wait in the broker before a fetch returns it.
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            consumer = self._make_consumer()
            try:
                await consumer.start()
                self._consumer = consumer
                backoff = 0.2
                await self._poll(consumer, stop)
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("consumer_retry", group=self.group_id, error=repr(exc))
                await _sleep_unless(stop, backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self._consumer = None
                self._forget_lag(keep=set())
                await stop_client(consumer)
        if self._producer is not None:
            await stop_client(self._producer)

    async def _poll(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=200)
            if consumer.assignment():
                self.assigned.set()
            await self._report_lag(consumer, {tp: len(r) for tp, r in batches.items()})
            for tp, records in batches.items():
                # One offset commit per partition and batch, not per event: a commit is a
                # broker round trip, and the soak measured the checker (this consumer)
                # falling ever further behind at ~75 events/s with one per event. After a
                # crash the uncommitted rest of a batch comes again; the processed-events
                # table makes that harmless.
                if self.batch_handler is not None:
                    handled = await self._handle_batch(records, self.batch_handler, stop)
                else:
                    handled = await self._handle_each(records, stop)
                if handled is not None:
                    await self._commit(consumer, tp, handled)
                if stop.is_set():
                    return
            if batches:
                await self._report_lag(consumer, {})

    async def _report_lag(
        self, consumer: AIOKafkaConsumer, waiting: Mapping[TopicPartition, int]
    ) -> None:
        """Set the lag of each partition held: its end offset minus the fetch position, plus
        the `waiting` records fetched but not yet handled."""
        reported: set[TopicPartition] = set()
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is None:
                continue  # nothing fetched from it yet, so its position may be unknown
            try:
                position = await consumer.position(tp)
            except IllegalStateError:
                continue  # taken away by a rebalance just now
            lag = max(end - position, 0) + waiting.get(tp, 0)
            CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(lag)
            reported.add(tp)
        self._forget_lag(keep=reported)

    def _forget_lag(self, keep: set[TopicPartition]) -> None:
        """Drop the series of partitions no longer reported, so that a rebalance or a stop
        leaves no stale lag behind (their new owner reports them)."""
        for tp in self._lag_reported - keep:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self.group_id, tp.topic, str(tp.partition))
        self._lag_reported = keep

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            # A rebalance took the partition away; its new owner will see the event
            # again and the processed-events table makes that harmless.
            log.info("commit_skipped", group=self.group_id, partition=tp.partition, error=str(exc))

    async def _handle_batch(
        self,
        records: Sequence[ConsumerRecord[Any, Any]],
        handler: BatchHandler,
        stop: asyncio.Event,
    ) -> int | None:
        """Apply one partition's batch in one transaction; returns the offset to commit."""
        events: list[tuple[ConsumerRecord[Any, Any], CloudEvent]] = []
        for record in records:
            try:
                event = CloudEvent.from_kafka(record.headers or [], record.value)
            except MalformedEvent as exc:
                await self._dead_letter(record, exc, attempts=1, stop=stop)
                continue
            if event.type in self.handlers:
                events.append((record, event))
            else:
                EVENTS_CONSUMED.labels(self.group_id, "ignored").inc()
        if stop.is_set():
            return None
        while events and not stop.is_set():
            try:
                applied = await self._apply_batch(events, handler)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_database_outage(exc):
                    log.warning("consumer_db_unavailable", group=self.group_id, error=repr(exc))
                    await _sleep_unless(stop, 1.0)
                    continue
                log.warning(
                    "consumer_batch_failed",
                    group=self.group_id,
                    events=len(events),
                    error=repr(exc),
                )
                await self._handle_each([r for r, _ in events], stop)
                return None if stop.is_set() else records[-1].offset + 1
            EVENTS_CONSUMED.labels(self.group_id, "applied").inc(applied)
            EVENTS_CONSUMED.labels(self.group_id, "duplicate").inc(len(events) - applied)
            if applied and self.on_applied is not None:
                self.on_applied()
            break
        return None if stop.is_set() else records[-1].offset + 1

    async def _handle_each(
        self, records: Sequence[ConsumerRecord[Any, Any]], stop: asyncio.Event
    ) -> int | None:
        """Handle the records one by one, each in its own transaction; returns the offset
        to commit (None when none was handled)."""
        handled: int | None = None
        for record in records:
            if stop.is_set():
                break
            await self.handle(record, stop)
            if stop.is_set():
                break  # unfinished: leave its offset for the next owner
            handled = record.offset + 1
        return handled

    async def _apply_batch(
        self,
        events: Sequence[tuple[ConsumerRecord[Any, Any], CloudEvent]],
        handler: BatchHandler,
    ) -> int:
        """Record the batch's ids and apply the new events, in one transaction; returns how
        many were new."""
        first = events[0][0]
        if self.tracer is None:
            return await self._apply_batch_once(events, handler)
        with self.tracer.start_as_current_span(
            f"{first.topic} process",
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": first.topic,
                "messaging.consumer.group.name": self.group_id,
                "messaging.destination.partition.id": str(first.partition),
                "messaging.batch.message_count": len(events),
            },
        ):
            return await self._apply_batch_once(events, handler)

    async def _apply_batch_once(
        self,
        events: Sequence[tuple[ConsumerRecord[Any, Any], CloudEvent]],
        handler: BatchHandler,
    ) -> int:
        first = events[0][0]
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                _RECORD_MANY,
                {
                    "consumer": self.group_id,
                    "topic": first.topic,
                    "partition": first.partition,
                    "event_ids": [e.id for _, e in events],
                    "offsets": [r.offset for r, _ in events],
                },
            )
            new = {row[0] for row in result}
            fresh: list[CloudEvent] = []
            for _, event in events:
                # An id twice in one batch (a relay's resend) is applied the first time.
                if event.id in new:
                    new.discard(event.id)
                    fresh.append(event)
            if fresh:
                await handler(session, fresh)
            return len(fresh)

    async def handle(self, record: ConsumerRecord[Any, Any], stop: asyncio.Event) -> None:
        try:
            event = CloudEvent.from_kafka(record.headers or [], record.value)
        except MalformedEvent as exc:
            await self._dead_letter(record, exc, attempts=1, stop=stop)
            return
        handler = self.handlers.get(event.type)
        if handler is None:
            EVENTS_CONSUMED.labels(self.group_id, "ignored").inc()
            return
        attempts = 0
        last: Exception | None = None
        while attempts < self.max_attempts and not stop.is_set():
            try:
                applied = await self._apply(record, event, handler)
                EVENTS_CONSUMED.labels(self.group_id, "applied" if applied else "duplicate").inc()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_database_outage(exc):
                    log.warning("consumer_db_unavailable", group=self.group_id, error=repr(exc))
                    await _sleep_unless(stop, 1.0)
                    continue
                attempts += 1
                last = exc
                log.warning(
                    "consumer_handler_failed",
                    group=self.group_id,
                    event_id=event.id,
                    type=event.type,
                    attempt=attempts,
                    error=repr(exc),
                )
                await _sleep_unless(stop, self.retry_backoff * attempts)
        if last is not None and not stop.is_set():
            await self._dead_letter(record, last, attempts=attempts, stop=stop)

    async def _apply(
        self, record: ConsumerRecord[Any, Any], event: CloudEvent, handler: Handler
    ) -> bool:
        if self.tracer is None:
            return await self._apply_once(record, event, handler)
        # A CONSUMER span in the trace the event was made in (its `ce_traceparent`); the
        # handler's statements are its children. An event without one starts a trace.
        with self.tracer.start_as_current_span(
            f"{record.topic} process",
            context=context_from(event.traceparent, event.tracestate),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self.group_id,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "messaging.message.id": event.id,
                "cloudevents.event_type": event.type,
            },
        ) as span:
            applied = await self._apply_once(record, event, handler)
            span.set_attribute("portal.event.duplicate", not applied)
            return applied

    async def _apply_once(
        self, record: ConsumerRecord[Any, Any], event: CloudEvent, handler: Handler
    ) -> bool:
        token = request_id_var.set(event.request_id)
        try:
            async with self.sessionmaker() as session, session.begin():
                seen = await session.execute(
                    _RECORD,
                    {
                        "consumer": self.group_id,
                        "event_id": event.id,
                        "topic": record.topic,
                        "partition": record.partition,
                        "offset": record.offset,
                    },
                )
                if seen.first() is None:
                    return False
                await handler(session, event)
        finally:
            request_id_var.reset(token)
        if self.on_applied is not None:
            self.on_applied()
        return True

    async def _dead_letter(
        self,
        record: ConsumerRecord[Any, Any],
        error: Exception,
        *,
        attempts: int,
        stop: asyncio.Event,
    ) -> None:
        headers = [
            *(record.headers or []),
            ("dlq_error", str(error)[:1000].encode()),
            ("dlq_error_type", type(error).__name__.encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.group_id.encode()),
        ]
        backoff = 0.2
        while not stop.is_set():
            try:
                if self._producer is None:
                    producer = self.producer_factory()
                    try:
                        await producer.start()
                    except BaseException:
                        await producer.stop()
                        raise
                    self._producer = producer
                await self._producer.send_and_wait(
                    dlq(record.topic), value=record.value, key=record.key, headers=headers
                )
                EVENTS_CONSUMED.labels(self.group_id, "dead_lettered").inc()
                log.error(
                    "event_dead_lettered",
                    group=self.group_id,
                    topic=record.topic,
                    offset=record.offset,
                    error=str(error)[:200],
                )
                return
            except (KafkaError, OSError) as exc:
                log.warning("dlq_retry", error=repr(exc))
                await _sleep_unless(stop, backoff)
                backoff = min(backoff * 2, 5.0)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
