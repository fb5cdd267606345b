"""Fixtures for the catalog service's tests: a fresh migrated database, the running app
(relay and consumers included) on the real broker, and tokens from a test issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from catalog.__main__ import SERVICE_ROOT
from catalog.app import create_app
from catalog.settings import CatalogSettings
from portal_shared.testing import TestIssuer, client_for, fresh_database, running, truncate_all


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="session")
async def settings(postgres_url: str, kafka_bootstrap: str) -> CatalogSettings:
    url = f"{postgres_url}/catalog_test"
    await fresh_database(SERVICE_ROOT, url)
    return CatalogSettings(
        database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_session_timeout_ms=3000,
        kafka_heartbeat_interval_ms=1000,
        log_json=False,
        PORTAL_ENV="test",
    )


@pytest.fixture(scope="session")
async def app(settings: CatalogSettings, issuer: TestIssuer) -> AsyncIterator[FastAPI]:
    async with running(create_app(settings), issuer) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_all(app.state.engine)
    async with client_for(app) as client:
        yield client
