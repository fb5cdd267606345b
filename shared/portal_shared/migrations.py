"""Alembic helpers: each service keeps its own migrations and database.

`run_env` is the whole body of a service's `migrations/env.py`; `upgrade` runs
`alembic upgrade head` for a service from code (the CLI, the embedded runner
and the tests all use it); `create_event_tables` is called by each service's
first migration to create the outbox and the processed-events table, and
`add_outbox_trace_context` by a later one to give the outbox its trace-context columns.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.operations import Operations
from sqlalchemy import MetaData, pool
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import async_engine_from_config

from portal_shared.db import asyncpg_dsn
from portal_shared.events.outbox import NOTIFY_CHANNEL

FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s"


def alembic_config(service_root: Path, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(service_root / "migrations"))
    cfg.set_main_option("file_template", FILE_TEMPLATE)
    cfg.set_main_option("timezone", "UTC")
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(service_root: Path, database_url: str, revision: str = "head") -> None:
    """Migrate synchronously (alembic's env runs its own event loop)."""
    command.upgrade(alembic_config(service_root, database_url), revision)


async def ensure_database(database_url: str) -> None:
    """Create the service's database if it does not exist (embedded runs and tests)."""
    url = make_url(database_url)
    name = url.database
    if not name:
        raise ValueError("the database URL names no database")
    admin = await asyncpg.connect(asyncpg_dsn(url.set(database="postgres").render_as_string(False)))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Identifiers cannot be bound as parameters; the name is quoted instead.
            quoted = '"' + name.replace('"', '""') + '"'
            await admin.execute(f"CREATE DATABASE {quoted}")
    finally:
        await admin.close()


def run_env(target_metadata: MetaData) -> None:
    """The body of a service's migrations/env.py: online migrations over asyncpg."""
    config = context.config

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            # Tables that shared owns are created by create_event_tables, not autogenerate.
            include_name=lambda name, type_, _: (
                not (type_ == "table" and name in ("outbox", "processed_events"))
            ),
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section) or {},
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


def create_event_tables(op: Operations) -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("request_id", sa.Text),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    # The relay scans only unsent rows; the partial index stays as small as the backlog.
    op.create_index(
        "ix_outbox_unsent", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )
    # One NOTIFY per inserting statement, delivered at commit: never for a rollback.
    op.execute(
        f"""
        CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox"
        " FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()"
    )
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def drop_event_tables(op: Operations) -> None:
    op.drop_table("processed_events")
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
    op.drop_table("outbox")


def add_outbox_trace_context(op: Operations) -> None:
    """The W3C trace context an event was made in, for the relay to send on as the
    CloudEvents `ce_traceparent`/`ce_tracestate` headers (null when tracing is off).
    Nullable columns without a default: adding them rewrites nothing."""
    op.add_column("outbox", sa.Column("traceparent", sa.Text))
    op.add_column("outbox", sa.Column("tracestate", sa.Text))


def drop_outbox_trace_context(op: Operations) -> None:
    op.drop_column("outbox", "tracestate")
    op.drop_column("outbox", "traceparent")
