"""The portal under attack: every service served by a real uvicorn on a loopback port, with
its own migrated database (`<service>_fuzz`), its real lifespan (relay, consumers, workers)
and a Kafka broker of its own, plus the people who call it and the objects they own.

The fuzz and security suites both use it. Each service runs in a thread with its own event
loop, so schemathesis and plain synchronous clients can call it over real HTTP while the
pytest loop stays free. The broker is private so that the events the fuzzer causes never
reach the services' own test apps in the same pytest session; the consumer groups carry a
prefix as well, so the suites could share a broker if one is imposed
(`PORTAL_TEST_KAFKA_BOOTSTRAP`).

Adding identity or the gateway is adding a `Component` to `COMPONENTS`.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from catalog.__main__ import SERVICE_ROOT as CATALOG_ROOT
from catalog.app import create_app as create_catalog
from catalog.settings import CatalogSettings
from directory.__main__ import SERVICE_ROOT as DIRECTORY_ROOT
from directory.app import create_app as create_directory
from directory.settings import DirectorySettings
from portal_embedded.broker import EmbeddedBroker, free_port
from portal_shared.cli import SERVE_OPTIONS
from portal_shared.settings import ServiceSettings
from portal_shared.testing import TestIssuer, fresh_database, running
from service_requests.__main__ import SERVICE_ROOT as REQUESTS_ROOT
from service_requests.app import create_app as create_requests
from service_requests.settings import RequestsSettings

GROUP_PREFIX = "fuzz."
# Tokens outlive the whole suite; expiry has its own security test.
TOKEN_TTL = 3600
WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Component:
    """One process of the portal as the suites start it."""

    name: str
    root: Path
    create_app: Callable[[Any], FastAPI]
    settings: Callable[..., ServiceSettings]


COMPONENTS: tuple[Component, ...] = (
    Component("directory", DIRECTORY_ROOT, create_directory, DirectorySettings),
    Component("catalog", CATALOG_ROOT, create_catalog, CatalogSettings),
    Component("requests", REQUESTS_ROOT, create_requests, RequestsSettings),
)


class Served:
    """A component's app under a real uvicorn, in a thread with its own event loop (the app's
    engine and consumers belong to that loop)."""

    def __init__(self, component: Component, settings: ServiceSettings, issuer: TestIssuer):
        self.component = component
        self.settings = settings
        self.app = component.create_app(settings)
        self.issuer = issuer
        self.port = settings.port
        self.server: uvicorn.Server | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"serve-{component.name}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread, which raises it
            self.error = exc

    async def _main(self) -> None:
        await fresh_database(self.component.root, self.settings.database_url)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",  # `running` below runs the real lifespan and trusts the issuer
            **SERVE_OPTIONS,
        )
        self.server = uvicorn.Server(config)
        async with running(self.app, self.issuer):
            await self.server.serve()

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while not (self.server is not None and self.server.started):
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"{self.component.name} did not start") from self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.component.name} did not start in time")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass
class World:
    """Real objects for the fuzzer and the attacks: two agencies, a published state service
    of the first, and one request each of two residents."""

    agency_id: str
    other_agency_id: str
    service_id: str
    request_a: dict[str, Any]
    request_b: dict[str, Any]


FORM_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["purpose", "passport_number"],
    "additionalProperties": False,
    "properties": {
        "purpose": {
            "type": "string",
            "enum": ["work", "study", "family"],
            "x-title": {"kk": "Мақсаты", "ru": "Цель", "en": "Purpose"},
        },
        "passport_number": {
            "type": "string",
            "pattern": "^N[0-9]{7}$",
            "x-title": {"kk": "Паспорт", "ru": "Паспорт", "en": "Passport"},
        },
    },
}
GOOD_FORM: dict[str, Any] = {"purpose": "work", "passport_number": "N1234567"}
_codes = itertools.count(1)


@dataclass
class Portal:
    issuer: TestIssuer
    served: dict[str, Served]
    broker: EmbeddedBroker | None
    kafka_bootstrap: str
    resident_a: uuid.UUID = field(default_factory=uuid.uuid4)
    resident_b: uuid.UUID = field(default_factory=uuid.uuid4)
    _world: World | None = None

    def url(self, name: str) -> str:
        return self.served[name].url

    def client(self, name: str) -> httpx.Client:
        return httpx.Client(base_url=self.url(name), timeout=30.0)

    # The people who call the portal, as real tokens of the trusted issuer.

    def bearer(self, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(ttl=TOKEN_TTL, **claims)}"}

    def identities(self, world: World) -> dict[str, dict[str, str]]:
        """Every kind of caller, by name; `anonymous` sends no token."""
        return {
            "anonymous": {},
            "resident_a": self.bearer(sub=self.resident_a, roles=["resident"]),
            "resident_b": self.bearer(sub=self.resident_b, roles=["resident"]),
            "officer": self.bearer(roles=["officer"], agency_id=uuid.UUID(world.agency_id)),
            "other_officer": self.bearer(
                roles=["officer"], agency_id=uuid.UUID(world.other_agency_id)
            ),
            "admin": self.bearer(roles=["admin"]),
        }

    @property
    def world(self) -> World:
        """The shared world, made on first use."""
        if self._world is None:
            self._world = self.make_world()
        return self._world

    def make_world(self) -> World:
        """Agencies through the directory's API, a state service through the catalog's (once
        the agency reached it over Kafka), requests once the service reached requests."""
        admin = self.bearer(roles=["admin"])
        n = next(_codes)
        with (
            self.client("directory") as directory,
            self.client("catalog") as catalog,
            self.client("requests") as requests,
        ):
            agencies = []
            for suffix in ("A", "B"):
                body = agency_body(f"BKR-FZ{n:03d}{suffix}")
                created = directory.post("/api/v1/agencies", json=body, headers=admin)
                assert created.status_code == 201, created.text
                agencies.append(created.json()["id"])
            service = _until_created(
                lambda: catalog.post(
                    "/api/v1/services",
                    json=service_body(f"fz-{n:03d}", agencies[0]),
                    headers=admin,
                )
            )
            published = catalog.post(f"/api/v1/services/{service['id']}/publish", headers=admin)
            assert published.status_code == 200, published.text

            def submit(resident: uuid.UUID) -> dict[str, Any]:
                return _until_created(
                    lambda: requests.post(
                        "/api/v1/requests",
                        json={"service_id": service["id"], "form_data": GOOD_FORM},
                        headers=self.bearer(sub=resident, roles=["resident"]),
                    )
                )

            return World(
                agency_id=agencies[0],
                other_agency_id=agencies[1],
                service_id=service["id"],
                request_a=submit(self.resident_a),
                request_b=submit(self.resident_b),
            )


def _until_created(call: Callable[[], httpx.Response]) -> dict[str, Any]:
    """Repeat a creation until it is 201: the object it refers to travels over Kafka first
    (the catalog answers 422 for an agency it has not heard of yet, requests likewise)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        response = call()
        if response.status_code == 201:
            body: dict[str, Any] = response.json()
            return body
        waiting = response.status_code == 422 and "available" in response.json().get("type", "")
        if not waiting or time.monotonic() > deadline:
            raise AssertionError(f"{response.status_code}: {response.text}")
        time.sleep(0.1)


def agency_body(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": {"kk": "Көші-қон қызметі", "ru": "Миграционная служба", "en": "Migration service"},
        "kind": "department",
        "bin": "140740190074",
        "city": "Baikonur",
        "address": "Baikonur, Gagarin street, 12",
        "timezone": "Asia/Qyzylorda",
        "contacts": {"phone": "+7 33622 5 20 00"},
    }


def service_body(code: str, agency_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": {"kk": "Тіркеу", "ru": "Регистрация", "en": "Residence registration"},
        "description": {"kk": "Тіркеу", "ru": "Регистрация", "en": "Registration"},
        "agency_id": agency_id,
        "term_working_days": 5,
        "fee": {"amount": 0, "currency": "KZT"},
        "result": {"kk": "Анықтама", "ru": "Справка", "en": "Certificate"},
        "required_documents": [],
        "refusal_grounds": [
            {
                "code": "false-documents",
                "text": {"kk": "Жалған", "ru": "Подложные", "en": "False documents"},
            }
        ],
        "channels": ["portal"],
        "form_schema": FORM_SCHEMA,
    }
    body.update(overrides)
    return body


def start_portal(postgres_url: str, kafka_bootstrap: str | None = None) -> Portal:
    """Start a private broker (unless one is given) and every component, in order."""
    broker = None
    if kafka_bootstrap is None:
        broker = EmbeddedBroker(free_port())
        broker.start()
        kafka_bootstrap = broker.bootstrap_servers
    issuer = TestIssuer()
    served: dict[str, Served] = {}
    portal = Portal(issuer, served, broker, kafka_bootstrap)
    try:
        for component in COMPONENTS:
            settings = component.settings(
                database_url=f"{postgres_url}/{component.name}_fuzz",
                kafka_bootstrap_servers=kafka_bootstrap,
                kafka_group_prefix=GROUP_PREFIX,
                kafka_session_timeout_ms=3000,
                kafka_heartbeat_interval_ms=1000,
                # Malformed events reach the dead-letter topic after two tries, not five.
                consumer_max_attempts=2,
                port=free_port(),
                log_json=False,
                PORTAL_ENV="test",
            )
            served[component.name] = Served(component, settings, issuer)
            served[component.name].start()
    except BaseException:
        stop_portal(portal)
        raise
    return portal


def stop_portal(portal: Portal) -> None:
    for served in reversed(list(portal.served.values())):
        served.stop()
    if portal.broker is not None:
        portal.broker.stop()


class SharedPortal:
    """One portal per pytest session, whichever suite asks first; stopped with the last."""

    def __init__(self) -> None:
        self.portal: Portal | None = None
        self.users = 0

    def acquire(self, postgres_url: str) -> Portal:
        if self.portal is None:
            self.portal = start_portal(postgres_url)
        self.users += 1
        return self.portal

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.portal is not None:
            stop_portal(self.portal)
            self.portal = None


SHARED = SharedPortal()
