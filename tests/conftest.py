"""Whole-portal fixtures: every service in one test, each on its own database, all on
the real broker, with consumer groups of their own (`flow.` prefix) so the services' own
test apps running in the same session never split their partitions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI

from catalog.__main__ import SERVICE_ROOT as CATALOG_ROOT
from catalog.app import create_app as create_catalog
from catalog.settings import CatalogSettings
from directory.__main__ import SERVICE_ROOT as DIRECTORY_ROOT
from directory.app import create_app as create_directory
from directory.settings import DirectorySettings
from identity.__main__ import SERVICE_ROOT as IDENTITY_ROOT
from identity.app import create_app as create_identity
from identity.settings import IdentitySettings
from notifications.__main__ import SERVICE_ROOT as NOTIFICATIONS_ROOT
from notifications.app import create_app as create_notifications
from notifications.settings import NotificationsSettings
from portal_embedded.broker import free_port
from portal_embedded.mail import MailSink
from portal_shared.settings import ServiceSettings
from portal_testing.service import TestIssuer, migrated_settings, running
from service_requests.__main__ import SERVICE_ROOT as REQUESTS_ROOT
from service_requests.app import create_app as create_requests
from service_requests.settings import RequestsSettings

GROUP_PREFIX = "flow."


@pytest.fixture(scope="session")
def portal_issuer() -> TestIssuer:
    return TestIssuer()


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


async def _settings(
    cls: type[SettingsT], root: Path, name: str, postgres_url: str, kafka: str, **overrides: Any
) -> SettingsT:
    url = f"{postgres_url}/{name}_flow"
    return await migrated_settings(
        cls, root, url, kafka, kafka_group_prefix=GROUP_PREFIX, **overrides
    )


@pytest.fixture(scope="session")
async def identity_app(postgres_url: str, kafka_bootstrap: str) -> AsyncIterator[FastAPI]:
    settings = await _settings(
        IdentitySettings, IDENTITY_ROOT, "identity", postgres_url, kafka_bootstrap
    )
    # Identity verifies the tokens it issues itself: no test issuer here.
    async with running(create_identity(settings)) as app:
        yield app


@pytest.fixture(scope="session")
async def directory_app(
    postgres_url: str, kafka_bootstrap: str, portal_issuer: TestIssuer
) -> AsyncIterator[FastAPI]:
    settings = await _settings(
        DirectorySettings, DIRECTORY_ROOT, "directory", postgres_url, kafka_bootstrap
    )
    async with running(create_directory(settings), portal_issuer) as app:
        yield app


@pytest.fixture(scope="session")
async def catalog_app(
    postgres_url: str, kafka_bootstrap: str, portal_issuer: TestIssuer
) -> AsyncIterator[FastAPI]:
    settings = await _settings(
        CatalogSettings, CATALOG_ROOT, "catalog", postgres_url, kafka_bootstrap
    )
    async with running(create_catalog(settings), portal_issuer) as app:
        yield app


@pytest.fixture(scope="session")
async def requests_app(
    postgres_url: str, kafka_bootstrap: str, portal_issuer: TestIssuer
) -> AsyncIterator[FastAPI]:
    settings = await _settings(
        RequestsSettings, REQUESTS_ROOT, "requests", postgres_url, kafka_bootstrap
    )
    async with running(create_requests(settings), portal_issuer) as app:
        yield app


@pytest.fixture(scope="session")
def portal_mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailSink]:
    """The SMTP server the notifications service sends to: a real one, writing a Maildir."""
    sink = MailSink(tmp_path_factory.mktemp("portal-mail"), free_port())
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="session")
async def notifications_app(
    postgres_url: str, kafka_bootstrap: str, portal_issuer: TestIssuer, portal_mail: MailSink
) -> AsyncIterator[FastAPI]:
    settings = await _settings(
        NotificationsSettings,
        NOTIFICATIONS_ROOT,
        "notifications",
        postgres_url,
        kafka_bootstrap,
        smtp_port=portal_mail.port,
        email_poll_seconds=0.05,
    )
    async with running(create_notifications(settings), portal_issuer) as app:
        yield app
