"""A scratch database with the event tables, for the shared library's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal_shared.db import make_engine, make_sessionmaker
from portal_shared.migrations import (
    add_outbox_trace_context,
    create_event_tables,
    ensure_database,
)


def _create(connection: Connection) -> None:
    # As the services' migrations make them: the tables, then their later columns.
    operations = Operations(MigrationContext.configure(connection))
    create_event_tables(operations)
    add_outbox_trace_context(operations)
    connection.execute(
        text("CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL, applied int DEFAULT 0)")
    )


@pytest.fixture(scope="session")
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    url = f"{postgres_url}/shared_events"
    await ensure_database(url)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS widgets, outbox, processed_events CASCADE"))
        await conn.execute(text("DROP FUNCTION IF EXISTS outbox_notify() CASCADE"))
        await conn.run_sync(_create)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE widgets, outbox, processed_events"))
    return make_sessionmaker(engine)
