"""Which driver errors count as the database being away (503, consumer waits) and which not."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from portal_shared.errors import is_database_outage


def wrapped(driver_error: Exception) -> DBAPIError:
    """The shape SQLAlchemy's asyncpg dialect raises: a DBAPIError whose `orig` is the
    dialect's adapter error, caused by asyncpg's own."""
    adapter = RuntimeError(str(driver_error))
    adapter.__cause__ = driver_error
    return DBAPIError("SELECT 1", None, adapter)


@pytest.mark.parametrize(
    "driver_error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.DiskFullError("could not extend file"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to user request"),
    ],
)
def test_a_server_going_away_is_an_outage(driver_error: Exception) -> None:
    assert is_database_outage(wrapped(driver_error))


def test_bad_input_is_not_an_outage() -> None:
    assert not is_database_outage(wrapped(asyncpg.exceptions.DataError("invalid input")))
    assert not is_database_outage(IntegrityError("INSERT", None, ValueError("duplicate key")))
    assert not is_database_outage(ValueError("not a database error"))


async def test_a_server_out_of_connections_is_an_outage(postgres_url: str) -> None:
    """What PostgreSQL answers when its connections are used up, from a real server: a
    busy database is a 503 to retry, never a 500. (A role's limit stands in for the
    server's max_connections; superusers are exempt from both, so the role is not one.)"""
    role = f"outage_{uuid.uuid4().hex[:8]}"
    dsn = postgres_url.replace("postgresql+asyncpg", "postgresql")
    admin = await asyncpg.connect(f"{dsn}/postgres")
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1')
        as_role = dsn.replace("://postgres@", f"://{role}@") + "/postgres"
        first = await asyncpg.connect(as_role)
        try:
            with pytest.raises(asyncpg.exceptions.TooManyConnectionsError) as refused:
                await asyncpg.connect(as_role)
            assert is_database_outage(refused.value)
            assert is_database_outage(wrapped(refused.value))
        finally:
            await first.close()
    finally:
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()
