"""Which driver errors count as the database being away (503, consumer waits) and which not."""

from __future__ import annotations

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
    ],
)
def test_a_server_going_away_is_an_outage(driver_error: Exception) -> None:
    assert is_database_outage(wrapped(driver_error))


def test_bad_input_is_not_an_outage() -> None:
    assert not is_database_outage(wrapped(asyncpg.exceptions.DataError("invalid input")))
    assert not is_database_outage(IntegrityError("INSERT", None, ValueError("duplicate key")))
    assert not is_database_outage(ValueError("not a database error"))
