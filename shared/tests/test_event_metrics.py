"""The event metrics the alerts read, as an operator sees them on /metrics.

The outbox backlog (how long the oldest unpublished event has waited) shows while the broker
is away, and drops to zero once the relay catches up; a consumer's lag counts what it has
fetched but not handled yet, and its series leave with the consumer.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal_embedded.broker import free_port
from portal_shared.events import (
    CloudEvent,
    EventConsumer,
    OutboxRelay,
    add_event,
    dlq,
    ensure_topics,
    make_producer,
)

BACKLOG = "portal_outbox_oldest_unsent_age_seconds"
LAG = "portal_consumer_lag_messages"


def exported(name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value /metrics shows for a series (None when absent)."""
    assert f"# TYPE {name} gauge" in generate_latest().decode()
    return REGISTRY.get_sample_value(name, labels or {})


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    name = f"test.metrics.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [name, dlq(name)], partitions=1)
    return name


async def add_old_event(
    maker: async_sessionmaker[AsyncSession], engine: AsyncEngine, topic: str, seconds: int
) -> None:
    async with maker() as session, session.begin():
        await add_event(session, topic=topic, key="k", type=f"{topic}.v1", source="/t", data={})
    async with engine.begin() as conn:
        # Time travel: the event was committed `seconds` ago and has waited since.
        await conn.execute(
            text("UPDATE outbox SET occurred_at = now() - make_interval(secs => :s)"),
            {"s": seconds},
        )


async def test_the_outbox_backlog_shows_while_the_broker_is_away_and_clears_after(
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    topic: str,
    kafka_bootstrap: str,
) -> None:
    await add_old_event(sessionmaker, engine, topic, 600)
    nowhere = f"127.0.0.1:{free_port()}"
    away = OutboxRelay(
        engine, lambda: make_producer(nowhere, idempotence=False), measure_interval=0
    )
    stop = asyncio.Event()
    task = asyncio.create_task(away.run(stop))
    try:
        async with asyncio.timeout(20):
            while (exported(BACKLOG) or 0) < 600:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await away.aclose()

    # A relay that reaches the broker publishes the event; its next measurement is zero.
    relay = OutboxRelay(
        engine, lambda: make_producer(kafka_bootstrap, idempotence=False), measure_interval=0
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        async with asyncio.timeout(20):
            while exported(BACKLOG) != 0:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await relay.aclose()
    async with engine.connect() as conn:
        unsent = await conn.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    assert unsent == 0


async def test_consumer_lag_counts_fetched_events_until_they_are_handled(
    sessionmaker: async_sessionmaker[AsyncSession], topic: str, kafka_bootstrap: str
) -> None:
    producer = make_producer(kafka_bootstrap, idempotence=False)
    await producer.start()
    try:
        for n in range(5):
            event = CloudEvent(type=f"{topic}.v1", source="/t", subject=str(n), data={"n": n})
            await producer.send_and_wait(topic, event.value(), key=b"k", headers=event.headers())
    finally:
        await producer.stop()

    release = asyncio.Event()

    async def slow(session: AsyncSession, event: CloudEvent) -> None:
        await release.wait()

    group = f"g-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(
        group_id=group,
        bootstrap_servers=kafka_bootstrap,
        topics=[topic],
        handlers={f"{topic}.v1": slow},
        sessionmaker=sessionmaker,
        producer_factory=lambda: make_producer(kafka_bootstrap, idempotence=False),
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
    )
    series = {"group": group, "topic": topic, "partition": "0"}
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async with asyncio.timeout(30):
            while exported(LAG, series) != 5:
                await asyncio.sleep(0.05)
            release.set()
            while exported(LAG, series) != 0:
                await asyncio.sleep(0.05)
    finally:
        release.set()
        stop.set()
        await task
    assert exported(LAG, series) is None, "a stopped consumer leaves no stale lag"
