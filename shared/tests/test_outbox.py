"""The outbox, relay and idempotent consumer against the real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal_embedded.broker import EmbeddedBroker, free_port
from portal_embedded.proxy import TcpProxy, broker_behind_proxy
from portal_shared.events import (
    CloudEvent,
    EventConsumer,
    OutboxRelay,
    add_event,
    dlq,
    ensure_topics,
    make_producer,
)
from portal_shared.events.outbox import EVENT_COLUMNS, event_row, event_values, outbox
from portal_shared.observability import broker_reachable

SOURCE = "/tests"


def new_topic() -> str:
    return f"test.widget.{uuid.uuid4().hex[:8]}"


async def add_widget(
    maker: async_sessionmaker[AsyncSession],
    topic: str,
    wid: int,
    key: str | None = None,
    **data: Any,
) -> None:
    async with maker() as session, session.begin():
        await session.execute(
            text("INSERT INTO widgets (id, name) VALUES (:id, :name)"),
            {"id": wid, "name": f"w{wid}"},
        )
        await add_event(
            session,
            topic=topic,
            key=key or str(wid),
            type=f"{topic}.created.v1",
            source=SOURCE,
            data={"id": wid, **data},
        )


async def read_topic(bootstrap: str, topic: str, count: int, within: float = 20) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    out: list[Any] = []
    try:
        async with asyncio.timeout(within):
            while len(out) < count:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    out.extend(records)
        # Anything beyond `count` would be a duplicate the test must see.
        batches = await consumer.getmany(timeout_ms=300)
        for records in batches.values():
            out.extend(records)
    finally:
        await consumer.stop()
    return out


async def run_until(
    relay: OutboxRelay, condition: Callable[[], Awaitable[bool]], within: float = 20
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        async with asyncio.timeout(within):
            while not await condition():
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await relay.aclose()


async def unsent(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        return int(value or 0)


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    name = new_topic()
    await ensure_topics(kafka_bootstrap, [name, dlq(name)], partitions=3)
    return name


def producer_for(bootstrap: str) -> Callable[[], AIOKafkaProducer]:
    return lambda: make_producer(bootstrap, idempotence=False)


async def test_rolled_back_change_leaves_no_event(
    sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine, topic: str
) -> None:
    async def write_then_fail() -> None:
        async with sessionmaker() as session, session.begin():
            await add_event(session, topic=topic, key="1", type="t.v1", source=SOURCE, data={})
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        await write_then_fail()
    await add_widget(sessionmaker, topic, 2)
    async with engine.connect() as conn:
        keys = (await conn.execute(text("SELECT key FROM outbox"))).scalars().all()
    assert keys == ["2"]


async def test_two_relays_keep_per_key_order(
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    topic: str,
    kafka_bootstrap: str,
) -> None:
    per_key = 40
    keys = [f"k{i}" for i in range(5)]
    for seq in range(per_key):
        for k, key in enumerate(keys):
            await add_widget(sessionmaker, topic, seq * 10 + k, key=key, seq=seq)
    relays = [OutboxRelay(engine, producer_for(kafka_bootstrap), batch_size=7) for _ in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    try:
        async with asyncio.timeout(30):
            while await unsent(engine):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for r in relays:
            await r.aclose()
    records = await read_topic(kafka_bootstrap, topic, per_key * len(keys))
    seqs: dict[str, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = CloudEvent.from_kafka(record.headers, record.value)
        seqs[record.key.decode()].append(event.data["seq"])
    assert len(records) == per_key * len(keys)
    assert {key: seqs[key] for key in keys} == {key: list(range(per_key)) for key in keys}


class CrashAfterPublish(OutboxRelay):
    async def before_mark(self, ids: list[int]) -> None:
        raise RuntimeError("relay killed between publish and mark")


async def consume_into_widgets(
    sessionmaker: async_sessionmaker[AsyncSession],
    bootstrap: str,
    topic: str,
    until: Callable[[], Awaitable[bool]],
    *,
    fail_on: set[int] | None = None,
) -> EventConsumer:
    async def apply(session: AsyncSession, event: CloudEvent) -> None:
        if event.data["id"] in (fail_on or set()):
            raise ValueError(f"cannot apply widget {event.data['id']}")
        await session.execute(
            text("UPDATE widgets SET applied = applied + 1 WHERE id = :id"),
            {"id": event.data["id"]},
        )

    consumer = EventConsumer(
        group_id=f"g-{uuid.uuid4().hex[:6]}",
        bootstrap_servers=bootstrap,
        topics=[topic],
        handlers={f"{topic}.created.v1": apply},
        sessionmaker=sessionmaker,
        producer_factory=producer_for(bootstrap),
        max_attempts=2,
        retry_backoff=0.01,
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async with asyncio.timeout(30):
            while not await until():
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    return consumer


async def applied_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[int, int]:
    async with sessionmaker() as session:
        rows = await session.execute(text("SELECT id, applied FROM widgets ORDER BY id"))
        return {r.id: r.applied for r in rows}


async def test_republished_event_is_applied_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    topic: str,
    kafka_bootstrap: str,
) -> None:
    for wid in range(1, 6):
        await add_widget(sessionmaker, topic, wid)
    crashing = CrashAfterPublish(engine, producer_for(kafka_bootstrap))
    stop = asyncio.Event()
    task = asyncio.create_task(crashing.run(stop))
    await asyncio.sleep(1.0)
    stop.set()
    await task
    await crashing.aclose()
    assert await unsent(engine) == 5, "a crash before marking must leave the events unsent"

    await run_until(OutboxRelay(engine, producer_for(kafka_bootstrap)), lambda: _zero(engine))
    records = await read_topic(kafka_bootstrap, topic, 10)
    assert len(records) >= 10, "every event went out twice: once before the crash, once after"

    async def all_applied() -> bool:
        return set((await applied_counts(sessionmaker)).values()) == {1}

    await consume_into_widgets(sessionmaker, kafka_bootstrap, topic, all_applied)
    await asyncio.sleep(0.5)
    assert await applied_counts(sessionmaker) == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1}


async def _zero(engine: AsyncEngine) -> bool:
    return await unsent(engine) == 0


async def test_poison_message_is_dead_lettered_and_the_partition_flows(
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    topic: str,
    kafka_bootstrap: str,
) -> None:
    # Everything on one key, so the poison sits in the middle of one partition.
    producer = make_producer(kafka_bootstrap, idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"not json", key=b"same", headers=[("ce_id", b"x")])
    finally:
        await producer.stop()
    for wid in (1, 2, 3):
        await add_widget(sessionmaker, topic, wid, key="same")
    await run_until(OutboxRelay(engine, producer_for(kafka_bootstrap)), lambda: _zero(engine))

    async def done() -> bool:
        counts = await applied_counts(sessionmaker)
        return counts.get(1) == 1 and counts.get(3) == 1

    await consume_into_widgets(sessionmaker, kafka_bootstrap, topic, done, fail_on={2})
    assert await applied_counts(sessionmaker) == {1: 1, 2: 0, 3: 1}
    dead = await read_topic(kafka_bootstrap, dlq(topic), 2)
    errors = sorted(dict(r.headers)["dlq_error_type"].decode() for r in dead)
    assert errors == ["MalformedEvent", "ValueError"]
    assert all(dict(r.headers)["dlq_original_topic"].decode() == topic for r in dead)


@pytest.fixture
async def cut_broker() -> AsyncIterator[tuple[EmbeddedBroker, TcpProxy]]:
    async with broker_behind_proxy() as pair:
        yield pair


async def test_writes_succeed_while_broker_is_away_and_events_arrive_after(
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    cut_broker: tuple[EmbeddedBroker, TcpProxy],
) -> None:
    _, proxy = cut_broker
    bootstrap = f"127.0.0.1:{proxy.port}"
    topic = new_topic()
    await ensure_topics(bootstrap, [topic], partitions=2)
    relay = OutboxRelay(engine, producer_for(bootstrap), poll_interval=0.5)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await add_widget(sessionmaker, topic, 1)
        async with asyncio.timeout(10):
            while await unsent(engine):
                await asyncio.sleep(0.05)
        proxy.cut()
        for wid in range(2, 52):
            await add_widget(sessionmaker, topic, wid)  # the write path never waits on Kafka
        await asyncio.sleep(1.0)
        assert await unsent(engine) == 50
        proxy.restore()
        async with asyncio.timeout(60):
            while await unsent(engine):
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
        await relay.aclose()
    records = await read_topic(bootstrap, topic, 51)
    ids = {CloudEvent.from_kafka(r.headers, r.value).data["id"] for r in records}
    assert ids == set(range(1, 52))


async def test_broker_readiness_asks_the_broker_itself(
    kafka_bootstrap: str, cut_broker: tuple[EmbeddedBroker, TcpProxy]
) -> None:
    await broker_reachable(kafka_bootstrap)
    # A listener that accepts TCP but is no broker (a proxy whose broker is gone) is not ready.
    _, proxy = cut_broker
    proxy.target = ("127.0.0.1", free_port())
    with pytest.raises(ConnectionError, match="no Kafka broker answers"):
        await broker_reachable(f"127.0.0.1:{proxy.port}")


async def test_the_listed_event_columns_are_the_outbox_table_s(engine: AsyncEngine) -> None:
    # A hand-written INSERT takes its columns from EVENT_COLUMNS: a column added to the
    # table (beyond the id and the relay's own published_at) must be added there too.
    async with engine.connect() as conn:
        columns = (
            await conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'outbox' ORDER BY ordinal_position"
                )
            )
        ).scalars()
        in_table = [c for c in columns if c not in ("id", "published_at")]
    assert sorted(in_table) == sorted(EVENT_COLUMNS)
    assert sorted(c.name for c in outbox.c if c.name not in ("id", "published_at")) == sorted(
        EVENT_COLUMNS
    )
    event = CloudEvent(type="t.v1", source=SOURCE, subject="k", data={"a": 1})
    row = event_row("t", "k", event)
    assert list(row) == list(EVENT_COLUMNS)
    assert tuple(row.values()) == event_values("t", "k", event)
