"""The checker: an idempotent consumer of requests.request that records every effect it applies.

It runs as its own process (`python -m bench.soak consume DATABASE_URL BOOTSTRAP`), so a
fault can kill it; its effects table has no unique key on ce_id on purpose, so that an
event applied twice shows in the checks instead of failing the insert.
"""

from __future__ import annotations

import asyncio
import signal
from uuid import UUID

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from bench.soak.config import CHECKER_GROUP, TOPIC
from portal_shared.db import make_engine, make_sessionmaker
from portal_shared.events import CloudEvent, EventConsumer, make_producer
from portal_shared.migrations import create_event_tables
from service_requests.workflow import EVENT_NAMES


def effects_schema(connection: Connection) -> None:
    create_event_tables(Operations(MigrationContext.configure(connection)))
    # No unique key on ce_id here on purpose: a second application must show, not fail.
    connection.execute(
        text(
            "CREATE TABLE effects (seq bigserial PRIMARY KEY, ce_id text NOT NULL,"
            " request_id uuid NOT NULL, type text NOT NULL, version int NOT NULL)"
        )
    )


async def consume(database_url: str, bootstrap: str) -> None:
    """The checker process: apply each requests.request event once, in its own database."""

    async def apply(session: AsyncSession, event: CloudEvent) -> None:
        await session.execute(
            text(
                "INSERT INTO effects (ce_id, request_id, type, version)"
                " VALUES (:ce_id, :request_id, :type, :version)"
            ),
            {
                "ce_id": event.id,
                "request_id": UUID(event.data["id"]),
                "type": event.type,
                "version": int(event.data["version"]),
            },
        )

    engine = make_engine(database_url, pool_size=2)
    consumer = EventConsumer(
        group_id=CHECKER_GROUP,
        bootstrap_servers=bootstrap,
        topics=[TOPIC],
        handlers={f"{TOPIC}.{n}.v1": apply for n in EVENT_NAMES},
        sessionmaker=make_sessionmaker(engine),
        producer_factory=lambda: make_producer(bootstrap, idempotence=False),
        max_attempts=1000,
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("checker_started", flush=True)
    await consumer.run(stop)
    await engine.dispose()
