"""Pytest fixtures that give every test run a real PostgreSQL, Kafka-protocol broker and Redis,
and, for the tests that ask, an S3-compatible object store and a ClamAV clamd.

By default they are started here, on free ports, in a temporary folder, and
stopped at the end (the S3 server and clamd only when a test needs them).
`PORTAL_TEST_POSTGRES_URL` (a SQLAlchemy URL without a database),
`PORTAL_TEST_KAFKA_BOOTSTRAP`, `PORTAL_TEST_REDIS_URL` and `PORTAL_TEST_CLAMD_URL` point
the tests at servers of your own instead, for example a real Apache Kafka.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# pytest names gateway/tests/conftest.py `gateway.tests.conftest` and would make the
# folder gateway/ stand for the `gateway` package; importing the real package while this
# plugin loads (before any conftest) keeps `gateway` the installed package for every test.
import gateway  # noqa: F401
from portal_embedded.broker import EmbeddedBroker, free_port
from portal_embedded.clamd import EmbeddedClamd
from portal_embedded.postgres import EmbeddedPostgres
from portal_embedded.redis import EmbeddedRedis
from portal_embedded.s3 import EmbeddedS3
from portal_testing.folders import after_teardown


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    after_teardown(item)


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


@dataclass(frozen=True)
class S3Server:
    """Where the test S3-compatible server listens and the key it accepts."""

    endpoint: str
    access_key: str
    secret_key: str


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """An S3-compatible server (`rclone serve s3`) over an empty temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="portal-s3-"))
    server = EmbeddedS3(folder, free_port())
    server.start()
    try:
        yield S3Server(server.endpoint, server.access_key, server.secret_key)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def clamd_url() -> Iterator[str]:
    """tcp://host:port of a clamd whose only signature is EICAR's."""
    if os.environ.get("PORTAL_TEST_CLAMD_URL"):
        yield os.environ["PORTAL_TEST_CLAMD_URL"]
        return
    folder = Path(tempfile.mkdtemp(prefix="portal-clamd-"))
    server = EmbeddedClamd(folder, free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
