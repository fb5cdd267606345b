"""Whole-portal fixtures.

- Every service in one test, each on its own database, all on the real broker, with consumer
  groups of their own (`flow.` prefix) so the services' own test apps running in the same
  session never split their partitions.
- `whole_portal`: the portal as `make run` starts it, shared by the API journeys (tests/e2e)
  and the browser (tests/web).
"""

from __future__ import annotations

import subprocess
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
from portal_testing.portal import Portal, server_folder
from portal_testing.service import TestIssuer, migrated_settings, running
from service_requests.__main__ import SERVICE_ROOT as REQUESTS_ROOT
from service_requests.app import create_app as create_requests
from service_requests.settings import RequestsSettings

GROUP_PREFIX = "flow."
ROOT = Path(__file__).resolve().parents[1]
# Tests on the fixtures that start the whole portal as `make run` does.
WHOLE_PORTAL = frozenset({"whole_portal", "web_portal"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the whole portal run last, in their usual order: the portal, started once
    for all of them (a minute or two on two cores), then idles beside no other test."""
    items.sort(key=lambda item: not WHOLE_PORTAL.isdisjoint(getattr(item, "fixturenames", ())))


@pytest.fixture(scope="session")
def web_build() -> Path:
    """web/dist, built (or found up to date) by `make web`."""
    subprocess.run(["make", "-s", "web"], cwd=ROOT, check=True, capture_output=True)
    dist = ROOT / "web" / "dist"
    assert (dist / "index.html").is_file()
    return dist


@pytest.fixture(scope="session")
def whole_portal(web_build: Path) -> Iterator[Portal]:
    """`python -m portal_embedded run` (demo data included) on free ports and a data folder of
    its own, serving the web app; one for the session. Its users are the demo ones and
    residents each test registers under IINs of its own, so tests on it do not meet."""
    with server_folder("portal-whole-") as folder:
        portal = Portal.on_free_ports(folder / "data")
        portal.env["WEB_APP_DIR"] = str(web_build)
        runner = portal.start_ready()
        try:
            yield portal
        finally:
            portal.stop(runner)
            portal.kill_all()


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
