"""The security suite's portal (shared with the fuzz suite in one pytest session) and a world
of its own, so that what the fuzzer did to its objects never decides an attack's outcome."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fuzz.portal import SHARED, Portal, World


@pytest.fixture(scope="session")
def portal(postgres_url: str) -> Iterator[Portal]:
    yield SHARED.acquire(postgres_url)
    SHARED.release()


@pytest.fixture(scope="session")
def world(portal: Portal) -> World:
    return portal.make_world()


@pytest.fixture(scope="session")
def people(portal: Portal, world: World) -> dict[str, dict[str, str]]:
    """Authorization headers by kind of caller (see `Portal.identities`)."""
    return portal.identities(world)


@pytest.fixture(scope="session")
def signed_in(portal: Portal, world: World) -> dict[str, dict[str, str]]:
    """The same kinds of caller as identity's own accounts with real tokens (identity trusts
    only these; the edge and the services trust them too)."""
    return portal.signed_in(world)


@pytest.fixture
def directory(portal: Portal) -> Iterator[httpx.Client]:
    with portal.client("directory") as client:
        yield client


@pytest.fixture
def catalog(portal: Portal) -> Iterator[httpx.Client]:
    with portal.client("catalog") as client:
        yield client


@pytest.fixture
def requests_api(portal: Portal) -> Iterator[httpx.Client]:
    with portal.client("requests") as client:
        yield client
