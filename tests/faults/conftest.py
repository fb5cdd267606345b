"""Fixtures of the fault tests: a JWKS server for test tokens, a broker of each test's own
(plain, or behind a proxy the test can cut), and a `Portal` of real service processes
whose output is printed when the test fails.

Each test gets its own broker: the topics' names are the contract's, so a shared broker
would hand one test's events to the next test's consumers and spoil the counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from portal_embedded.broker import EmbeddedBroker, free_port
from portal_embedded.proxy import TcpProxy, broker_behind_proxy
from portal_testing.service import TestIssuer, serve_jwks
from tests.faults.harness import Portal, PortalFactory


@pytest.fixture(scope="session")
def fault_issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="session")
def jwks(fault_issuer: TestIssuer) -> Iterator[str]:
    """The JWKS URL the services fetch the fault issuer's keys from."""
    with serve_jwks(fault_issuer) as url:
        yield url


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
async def cut_broker(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedBroker, TcpProxy]]:
    async with broker_behind_proxy(tmp_path / "broker.log") as pair:
        yield pair


@pytest.fixture
async def portals(tmp_path: Path, postgres_url: str, jwks: str) -> AsyncIterator[PortalFactory]:
    """Make a `Portal` on a broker (and optionally a PostgreSQL server) of the test's choice;
    every process is stopped afterwards and its output's tail printed (shown on failure)."""
    made: list[Portal] = []

    def make(bootstrap: str, *, postgres: str | None = None) -> Portal:
        portal = Portal(tmp_path, postgres or postgres_url, bootstrap, jwks)
        made.append(portal)
        return portal

    yield make
    for portal in made:
        portal.shutdown()
        print(portal.report())
        await portal.drop_databases()


@pytest.fixture
def portal(broker: EmbeddedBroker, portals: PortalFactory) -> Portal:
    # The broker is set up first so that it is torn down last, after the processes.
    return portals(broker.bootstrap_servers)
