"""Whole-portal fixtures: several services in one test, each on its own database,
all on the real broker, with consumer groups of their own (`flow.` prefix) so the
services' own test apps running in the same session never split their partitions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI

from catalog.__main__ import SERVICE_ROOT as CATALOG_ROOT
from catalog.app import create_app as create_catalog
from catalog.settings import CatalogSettings
from directory.__main__ import SERVICE_ROOT as DIRECTORY_ROOT
from directory.app import create_app as create_directory
from directory.settings import DirectorySettings
from portal_shared.testing import TestIssuer, fresh_database, running
from service_requests.__main__ import SERVICE_ROOT as REQUESTS_ROOT
from service_requests.app import create_app as create_requests
from service_requests.settings import RequestsSettings

GROUP_PREFIX = "flow."


def _common(url: str, kafka_bootstrap: str) -> dict[str, Any]:
    return {
        "database_url": url,
        "kafka_bootstrap_servers": kafka_bootstrap,
        "kafka_session_timeout_ms": 3000,
        "kafka_heartbeat_interval_ms": 1000,
        "kafka_group_prefix": GROUP_PREFIX,
        "log_json": False,
        "PORTAL_ENV": "test",
    }


@pytest.fixture(scope="session")
def portal_issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="session")
async def directory_app(
    postgres_url: str, kafka_bootstrap: str, portal_issuer: TestIssuer
) -> AsyncIterator[FastAPI]:
    url = f"{postgres_url}/directory_flow"
    await fresh_database(DIRECTORY_ROOT, url)
    settings = DirectorySettings(**_common(url, kafka_bootstrap))
    async with running(create_directory(settings), portal_issuer) as app:
        yield app


@pytest.fixture(scope="session")
async def catalog_app(
    postgres_url: str, kafka_bootstrap: str, portal_issuer: TestIssuer
) -> AsyncIterator[FastAPI]:
    url = f"{postgres_url}/catalog_flow"
    await fresh_database(CATALOG_ROOT, url)
    settings = CatalogSettings(**_common(url, kafka_bootstrap))
    async with running(create_catalog(settings), portal_issuer) as app:
        yield app


@pytest.fixture(scope="session")
async def requests_app(
    postgres_url: str, kafka_bootstrap: str, portal_issuer: TestIssuer
) -> AsyncIterator[FastAPI]:
    url = f"{postgres_url}/requests_flow"
    await fresh_database(REQUESTS_ROOT, url)
    settings = RequestsSettings(**_common(url, kafka_bootstrap))
    async with running(create_requests(settings), portal_issuer) as app:
        yield app
