"""The portal under attack: every service served by a real uvicorn on a loopback port, with
its own migrated database (`<service>_fuzz`), its real lifespan (relay, consumers, workers)
and a Kafka broker of its own, plus the people who call it and the objects they own.

The fuzz and security suites both use it. Each service runs in a thread with its own event
loop, so schemathesis and plain synchronous clients can call it over real HTTP while the
pytest loop stays free. The broker is private so that the events the fuzzer causes never
reach the services' own test apps in the same pytest session; the consumer groups carry a
prefix as well, so the suites could share a broker if one is imposed
(`PORTAL_TEST_KAFKA_BOOTSTRAP`).

Identity is a component like the others, but it signs its own tokens: the other services
trust both the test issuer and identity's published keys, so the callers can be real
accounts of identity (`signed_in`) or the test issuer's tokens (`identities`). Two gateways
front the services: `gateway` with its rate limits raised for the fuzzer, and `edge` with
tight ones for the security suite's throttling attacks.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from catalog.__main__ import SERVICE_ROOT as CATALOG_ROOT
from catalog.app import create_app as create_catalog
from catalog.settings import CatalogSettings
from directory.__main__ import SERVICE_ROOT as DIRECTORY_ROOT
from directory.app import create_app as create_directory
from directory.settings import DirectorySettings
from gateway.app import Gateway
from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from identity.__main__ import SERVICE_ROOT as IDENTITY_ROOT
from identity.__main__ import seed_admin_and_clients
from identity.app import create_app as create_identity
from identity.settings import IdentitySettings
from notifications.__main__ import SERVICE_ROOT as NOTIFICATIONS_ROOT
from notifications.app import create_app as create_notifications
from notifications.settings import NotificationsSettings
from portal_embedded.broker import EmbeddedBroker, free_port
from portal_shared.auth import TokenVerifier
from portal_shared.cli import SERVE_OPTIONS
from portal_shared.settings import ServiceSettings
from portal_testing.folders import close_after_tests_in
from portal_testing.oidc import WEB_SCOPE, sign_in_with_pkce, valid_iin
from portal_testing.service import TestIssuer, fresh_database, running
from service_requests.__main__ import SERVICE_ROOT as REQUESTS_ROOT
from service_requests.app import create_app as create_requests
from service_requests.settings import RequestsSettings
from tests.fuzz.bodies import (
    GOOD_FORM,
    PASSWORD,
    agency_body,
    resident_body,
    service_body,
)

GROUP_PREFIX = "fuzz."
# Tokens outlive the whole suite; expiry has its own security test.
TOKEN_TTL = 3600
WAIT_SECONDS = 60.0


# The demo administrator `seed_admin_and_clients` creates, with the `portal-web` client.
ADMIN = ("admin", "admin-demo-password")


async def seed_identity(app: FastAPI) -> None:
    """The administrator and the public `portal-web` client, as `seed-demo` makes them."""
    async with app.state.sessionmaker() as session, session.begin():
        await seed_admin_and_clients(session, app.state.settings, app.state.passwords)


@dataclass(frozen=True)
class Component:
    """One process of the portal as the suites start it."""

    name: str
    root: Path
    create_app: Callable[[Any], FastAPI]
    settings: Callable[..., ServiceSettings]
    # Settings beyond the common ones, and what to create once it runs.
    extra: dict[str, Any] = field(default_factory=dict)
    prepare: Callable[[FastAPI], Awaitable[None]] | None = None


COMPONENTS: tuple[Component, ...] = (
    Component(
        "identity",
        IDENTITY_ROOT,
        create_identity,
        IdentitySettings,
        extra={
            # Cheap hashes keep sign-ins quick; the cost is a setting, not a behaviour.
            "argon2_memory_kib": 1024,
            "argon2_time_cost": 1,
            "access_token_ttl": TOKEN_TTL,
            # Three failures lock an account (the lockout attack), but the fuzzer's thousands
            # of failed logins from 127.0.0.1 must not lock out the suites' own sign-ins.
            "login_max_failures": 3,
            "login_max_failures_per_address": 10_000,
        },
        prepare=seed_identity,
    ),
    Component("directory", DIRECTORY_ROOT, create_directory, DirectorySettings),
    Component("catalog", CATALOG_ROOT, create_catalog, CatalogSettings),
    Component("requests", REQUESTS_ROOT, create_requests, RequestsSettings),
    Component(
        "notifications",
        NOTIFICATIONS_ROOT,
        create_notifications,
        NotificationsSettings,
        # No email is wanted here: a port nothing listens on keeps any in the outbox.
        extra={"smtp_port": free_port()},
    ),
)


def portal_keys(issuer: TestIssuer, identity_url: str) -> TokenVerifier:
    """A verifier that trusts the test issuer and whatever identity publishes now (refetched
    at once for an unknown key: the fuzzer rotates identity's signing key)."""

    async def jwks(_: Request) -> JSONResponse:
        async with httpx.AsyncClient(base_url=identity_url, timeout=10.0) as http:
            published = (await http.get("/auth/jwks")).json()["keys"]
        return JSONResponse({"keys": issuer.jwks()["keys"] + published})

    keys = Starlette(routes=[Route("/jwks", jwks)])
    return TokenVerifier(
        issuer=issuer.issuer,
        audience=issuer.audience,
        jwks_url="http://keys/jwks",
        min_refetch_interval=0.0,
        http=httpx.AsyncClient(transport=httpx.ASGITransport(app=keys), base_url="http://keys"),
    )


class Threaded:
    """An ASGI app under a real uvicorn, in a thread with its own event loop (the app's
    engine and consumers belong to that loop)."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.server: uvicorn.Server | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"serve-{name}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread, which raises it
            self.error = exc

    async def _main(self) -> None:
        raise NotImplementedError

    def _server(self, app: Any) -> uvicorn.Server:
        # The lifespan is run by `_main`, which then swaps in the verifier the suites trust.
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="off", **SERVE_OPTIONS
        )
        self.server = uvicorn.Server(config)
        return self.server

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while not (self.server is not None and self.server.started):
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"{self.name} did not start") from self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not start in time")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=30)


class Served(Threaded):
    """A service with its own fresh database; identity trusts only itself, every other
    service the test issuer and identity (`portal_keys`)."""

    def __init__(
        self, component: Component, settings: ServiceSettings, keys: Callable[[], TokenVerifier]
    ) -> None:
        super().__init__(component.name, settings.port)
        self.component = component
        self.settings = settings
        self.app = component.create_app(settings)
        self.keys = keys

    async def _main(self) -> None:
        await fresh_database(self.component.root, self.settings.database_url)
        server = self._server(self.app)
        async with running(self.app):
            if self.component.prepare is not None:
                await self.component.prepare(self.app)
            if self.component.name != "identity":
                replaced = self.app.state.token_verifier
                await replaced.aclose()
                self.app.state.token_verifier = self.keys()
                # The app's revocation feed fills this list: revoked stays revoked here.
                self.app.state.token_verifier.revocations = replaced.revocations
            await server.serve()


class ServedGateway(Threaded):
    """The gateway in front of the served services, trusting the same keys they do."""

    def __init__(
        self, name: str, settings: GatewaySettings, keys: Callable[[], TokenVerifier]
    ) -> None:
        super().__init__(name, settings.port)
        self.app: Gateway = create_gateway(settings)
        self.keys = keys

    async def _main(self) -> None:
        server = self._server(self.app)
        await self.app.startup()
        # The gateway's own verifier keeps running for its revocation feed, whose list the
        # verifier the suites trust shares.
        fed = self.app.verifier
        try:
            self.app.verifier = self.keys()
            if fed is not None:
                self.app.verifier.revocations = fed.revocations
            await server.serve()
        finally:
            await self.app.shutdown()
            if fed is not None:
                await fed.aclose()


@dataclass
class World:
    """Real objects for the fuzzer and the attacks: two agencies, a published state service
    of the first, and one request each of two residents."""

    agency_id: str
    other_agency_id: str
    service_id: str
    request_a: dict[str, Any]
    request_b: dict[str, Any]


_codes = itertools.count(1)


@dataclass
class Portal:
    issuer: TestIssuer
    served: dict[str, Served]
    broker: EmbeddedBroker | None
    kafka_bootstrap: str
    gateways: dict[str, ServedGateway] = field(default_factory=dict)
    # Real residents of identity (registered at start), so the same people own requests.
    resident_a: uuid.UUID = field(default_factory=uuid.uuid4)
    resident_b: uuid.UUID = field(default_factory=uuid.uuid4)
    # Officer usernames by agency id, made in identity on first need.
    officers: dict[str, str] = field(default_factory=dict)
    _world: World | None = None

    def url(self, name: str) -> str:
        if name in self.gateways:
            return self.gateways[name].url
        return self.served[name].url

    def client(self, name: str, source: str = "127.0.0.1") -> httpx.Client:
        """A client of a component or gateway, from a loopback address of the caller's choice
        (the gateways' per-address limits then spend one attack's budget, not another's)."""
        transport = httpx.HTTPTransport(local_address=source)
        # Problems in English, as the attacks' assertions read them (Kazakh is the default).
        return httpx.Client(
            base_url=self.url(name),
            transport=transport,
            timeout=30.0,
            headers={"Accept-Language": "en"},
        )

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

    # The same people as identity's own accounts, signed in through the PKCE code flow.

    def sign_in(
        self, username: str, password: str = PASSWORD, *, scope: str = WEB_SCOPE
    ) -> dict[str, str]:
        async def flow() -> str:
            async with httpx.AsyncClient(base_url=self.url("identity"), timeout=30.0) as web:
                signed = await sign_in_with_pkce(web, username, password, scope=scope)
                return signed.access_token

        return {"Authorization": f"Bearer {asyncio.run(flow())}"}

    def register_residents(self) -> None:
        with self.client("identity") as identity:
            for serial, attribute in ((1, "resident_a"), (2, "resident_b")):
                created = identity.post("/api/v1/residents", json=resident_body(serial))
                assert created.status_code == 201, created.text
                setattr(self, attribute, uuid.UUID(created.json()["id"]))

    def officer(self, agency_id: str) -> str:
        """An officer of the agency in identity (once the agency reached it over Kafka)."""
        if agency_id not in self.officers:
            username = f"officer-{agency_id[:8]}"
            body = {
                "username": username,
                "password": PASSWORD,
                "given_name": "Daulet",
                "family_name": "Officer",
                "email": f"{username}@example.kz",
                "roles": ["officer"],
                "agency_id": agency_id,
            }
            admin = self.sign_in(*ADMIN)
            with self.client("identity") as identity:
                _until_created(lambda: identity.post("/api/v1/users", json=body, headers=admin))
            self.officers[agency_id] = username
        return self.officers[agency_id]

    def signed_in(self, world: World) -> dict[str, dict[str, str]]:
        """Every kind of caller as identity's real tokens, signed in afresh (the fuzzer may
        have rotated identity's signing key since the last sign-in)."""
        return {
            "anonymous": {},
            "resident_a": self.sign_in(valid_iin(1)),
            "resident_b": self.sign_in(valid_iin(2)),
            "officer": self.sign_in(self.officer(world.agency_id)),
            "other_officer": self.sign_in(self.officer(world.other_agency_id)),
            "admin": self.sign_in(*ADMIN),
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
        kind = response.json().get("type", "")
        waiting = response.status_code == 422 and ("available" in kind or "agency" in kind)
        if not waiting or time.monotonic() > deadline:
            raise AssertionError(f"{response.status_code}: {response.text}")
        time.sleep(0.1)


# The fuzzer's gateway must not throttle it; the edge keeps limits an attack runs into fast.
UNTHROTTLED = "1000000000/minute"
EDGE_LIMIT = 3  # registrations per address, submissions per subject, per hour at the edge
EDGE_MAX_BODY = 64 * 1024
EDGE_ORIGIN = "https://portal.example.kz"
GATEWAYS: dict[str, dict[str, Any]] = {
    "gateway": {
        f"limit_{name}": UNTHROTTLED
        for name in (
            "per_address",
            "registration_per_address",
            "writes_per_subject",
            "submissions_per_subject",
        )
    },
    "edge": {
        "limit_registration_per_address": f"{EDGE_LIMIT}/hour",
        "limit_submissions_per_subject": f"{EDGE_LIMIT}/hour",
        "max_body_bytes": EDGE_MAX_BODY,
        "cors_origins": [EDGE_ORIGIN],
    },
}


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

    def keys() -> TokenVerifier:
        return portal_keys(issuer, portal.url("identity"))

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
                **component.extra,
            )
            served[component.name] = Served(component, settings, keys)
            served[component.name].start()
        for name, limits in GATEWAYS.items():
            gateway = GatewaySettings(
                identity_url=portal.url("identity"),
                directory_url=portal.url("directory"),
                catalog_url=portal.url("catalog"),
                requests_url=portal.url("requests"),
                notifications_url=portal.url("notifications"),
                kafka_bootstrap_servers=kafka_bootstrap,
                port=free_port(),
                log_json=False,
                PORTAL_ENV="test",
                **limits,
            )
            portal.gateways[name] = ServedGateway(name, gateway, keys)
            portal.gateways[name].start()
        portal.register_residents()
    except BaseException:
        stop_portal(portal)
        raise
    return portal


def stop_portal(portal: Portal) -> None:
    for gateway in portal.gateways.values():
        gateway.stop()
    for served in reversed(list(portal.served.values())):
        served.stop()
    if portal.broker is not None:
        portal.broker.stop()


class SharedPortal:
    """One portal for the suites that share it (`USERS`), whichever asks first; stopped after
    the last of their tests (or with the last suite's fixture, if that comes first)."""

    def __init__(self) -> None:
        self.portal: Portal | None = None
        self.users = 0

    def acquire(self, postgres_url: str) -> Portal:
        if self.portal is None:
            self.portal = start_portal(postgres_url)
            close_after_tests_in(self.stop, *USERS)
        self.users += 1
        return self.portal

    def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            self.stop()

    def stop(self) -> None:
        if self.portal is not None:
            stop_portal(self.portal)
            self.portal = None


# The suites on the shared portal, which pytest runs one after the other.
TESTS = Path(__file__).resolve().parents[1]
USERS = (TESTS / "fuzz", TESTS / "hostile", TESTS / "security")
SHARED = SharedPortal()
