"""Pytest fixtures that give every test run a real PostgreSQL, Kafka-protocol broker and Redis.

By default they are started here, on free ports, in a temporary folder, and
stopped at the end. `PORTAL_TEST_POSTGRES_URL` (a SQLAlchemy URL without a
database), `PORTAL_TEST_KAFKA_BOOTSTRAP` and `PORTAL_TEST_REDIS_URL` point the tests
at servers of your own instead, for example a real Apache Kafka.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest names gateway/tests/conftest.py `gateway.tests.conftest` and would make the
# folder gateway/ stand for the `gateway` package; importing the real package while this
# plugin loads (before any conftest) keeps `gateway` the installed package for every test.
import gateway  # noqa: F401
from portal_embedded.broker import EmbeddedBroker, free_port
from portal_embedded.postgres import EmbeddedPostgres
from portal_embedded.redis import EmbeddedRedis


@pytest.fixture(scope="session")
def embedded_postgres() -> Iterator[EmbeddedPostgres | None]:
    if os.environ.get("PORTAL_TEST_POSTGRES_URL"):
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="portal-pg-"))
    server = EmbeddedPostgres(folder / "data", free_port(), fsync=False)
    server.start()
    try:
        yield server
    finally:
        server.destroy()
        folder.rmdir()


@pytest.fixture(scope="session")
def postgres_url(embedded_postgres: EmbeddedPostgres | None) -> str:
    """SQLAlchemy URL of the test PostgreSQL server, without a database name."""
    if embedded_postgres is None:
        return os.environ["PORTAL_TEST_POSTGRES_URL"].rstrip("/")
    return embedded_postgres.url


@pytest.fixture(scope="session")
def embedded_broker() -> Iterator[EmbeddedBroker | None]:
    if os.environ.get("PORTAL_TEST_KAFKA_BOOTSTRAP"):
        yield None
        return
    broker = EmbeddedBroker(free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded_broker: EmbeddedBroker | None) -> str:
    if embedded_broker is None:
        return os.environ["PORTAL_TEST_KAFKA_BOOTSTRAP"]
    return embedded_broker.bootstrap_servers


@pytest.fixture(scope="session")
def embedded_redis() -> Iterator[EmbeddedRedis | None]:
    if os.environ.get("PORTAL_TEST_REDIS_URL"):
        yield None
        return
    server = EmbeddedRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(embedded_redis: EmbeddedRedis | None) -> str:
    """URL of the test Redis-protocol server (Valkey), shared by the whole run."""
    if embedded_redis is None:
        return os.environ["PORTAL_TEST_REDIS_URL"]
    return embedded_redis.url
