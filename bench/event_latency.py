"""Commit-to-consumer event latency, against a raw aiokafka round trip in the same run.

Measured: a transaction writes a row and its outbox event and commits (t0); the
relay publishes it; an idempotent consumer applies it in its own transaction
(t1). Baseline: the same broker, a bare `send_and_wait` to a consumer loop with
no database at all. Both run on an embedded PostgreSQL (fsync on, as `make run`)
and the embedded broker started here on free ports.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from portal_embedded.broker import EmbeddedBroker, free_port
from portal_embedded.postgres import EmbeddedPostgres
from portal_shared.db import make_engine, make_sessionmaker
from portal_shared.events import (
    CloudEvent,
    EventConsumer,
    OutboxRelay,
    add_event,
    ensure_topics,
    make_producer,
)
from portal_shared.migrations import create_event_tables, ensure_database

EVENTS = 1000
# One event every 5 ms: a steady stream, not a burst, so latency is not queueing.
INTERVAL = 0.005
# The broker answers a fetch only when this wait ends (it does not wake early on new
# data), so both paths use the same value as the services do.
FETCH_MAX_WAIT_MS = 20


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def raw_round_trip(bootstrap: str) -> list[float]:
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [topic], partitions=6)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    sent: dict[str, float] = {}
    latencies: list[float] = []

    async def receive() -> None:
        while len(latencies) < EVENTS:
            batches = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                latencies.extend(now - sent[r.key.decode()] for r in records)

    receiver = asyncio.create_task(receive())
    for i in range(EVENTS):
        key = str(i)
        sent[key] = time.perf_counter()
        await producer.send(topic, b"{}", key=key.encode())
        await asyncio.sleep(INTERVAL)
    await asyncio.wait_for(receiver, 60)
    await producer.stop()
    await consumer.stop()
    return latencies


def _schema(connection: Connection) -> None:
    create_event_tables(Operations(MigrationContext.configure(connection)))
    connection.execute(text("CREATE TABLE items (id int PRIMARY KEY, t0 float8 NOT NULL)"))


async def outbox_round_trip(postgres_url: str, bootstrap: str) -> list[float]:
    url = f"{postgres_url}/bench_events"
    await ensure_database(url)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS items, outbox, processed_events CASCADE"))
        await conn.execute(text("DROP FUNCTION IF EXISTS outbox_notify() CASCADE"))
        await conn.run_sync(_schema)
    maker = make_sessionmaker(engine)
    topic = f"bench.outbox.{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [topic, f"{topic}.dlq"], partitions=6)
    committed: dict[int, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def apply(session: AsyncSession, event: CloudEvent) -> None:
        latencies.append(time.perf_counter() - committed[event.data["id"]])
        if len(latencies) >= EVENTS:
            done.set()

    def producer() -> AIOKafkaProducer:
        return make_producer(bootstrap, idempotence=False)

    stop = asyncio.Event()
    relay = OutboxRelay(engine, producer)
    consumer = EventConsumer(
        group_id="bench",
        bootstrap_servers=bootstrap,
        topics=[topic],
        handlers={"bench.item.created.v1": apply},
        sessionmaker=maker,
        producer_factory=producer,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(consumer.run(stop))]
    await asyncio.wait_for(consumer.assigned.wait(), 30)
    for i in range(EVENTS):
        async with maker() as session, session.begin():
            await session.execute(
                text("INSERT INTO items VALUES (:id, :t)"), {"id": i, "t": time.time()}
            )
            await add_event(
                session,
                topic=topic,
                key=str(i),
                type="bench.item.created.v1",
                source="/bench",
                data={"id": i},
            )
        committed[i] = time.perf_counter()
        await asyncio.sleep(INTERVAL)
    await asyncio.wait_for(done.wait(), 60)
    stop.set()
    await asyncio.gather(*tasks)
    await relay.aclose()
    await engine.dispose()
    return latencies


async def measure() -> list[tuple[str, float, float]]:
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    postgres = EmbeddedPostgres(folder / "pg", free_port(), fsync=True)
    broker = EmbeddedBroker(free_port())
    postgres.start()
    broker.start()
    try:
        raw = await raw_round_trip(broker.bootstrap_servers)
        outbox = await outbox_round_trip(postgres.url, broker.bootstrap_servers)
    finally:
        broker.stop()
        postgres.destroy()
    return [
        ("raw aiokafka produce->consume (baseline)", percentile(raw, 50), percentile(raw, 99)),
        (
            "commit -> outbox relay -> idempotent consumer",
            percentile(outbox, 50),
            percentile(outbox, 99),
        ),
    ]


def report(rows: list[tuple[str, float, float]]) -> str:
    base = rows[0]
    lines = [
        f"Event latency, {EVENTS} events one every {INTERVAL * 1000:.0f} ms",
        f"{'path':<48} {'p50 ms':>8} {'p99 ms':>8} {'p50 ratio':>10} {'p99 ratio':>10}",
    ]
    for name, p50, p99 in rows:
        lines.append(
            f"{name:<48} {p50 * 1000:8.2f} {p99 * 1000:8.2f}"
            f" {p50 / base[1]:10.2f} {p99 / base[2]:10.2f}"
        )
    lines.append(f"aim: p99 under 100 ms; measured {rows[1][2] * 1000:.1f} ms")
    return "\n".join(lines)


def run() -> None:
    print(report(asyncio.run(measure())))


if __name__ == "__main__":
    run()
