"""One mistake, one answer, in every service: bad cursors and bad preconditions.

Every service reads `?cursor=` with portal_shared.paging and `If-Match` with
portal_shared.preconditions, so a client that makes the same mistake anywhere gets the same
status and problem `type`. This walk checks it from the outside: it reads each service's
OpenAPI document, finds every list (a GET whose answer has `next_cursor`) and every route
that takes an `If-Match` header, and sends each the same bad cursors and the same malformed
and stale entity tags. A route added later is walked without touching this file; a service
joins the walk with one entry in SUBJECTS (its app and a seed that creates what its routes
act on).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from catalog import service as catalog_service
from catalog.__main__ import SERVICE_ROOT as CATALOG_ROOT
from catalog.app import create_app as create_catalog
from catalog.settings import CatalogSettings
from directory.__main__ import SERVICE_ROOT as DIRECTORY_ROOT
from directory.app import create_app as create_directory
from directory.settings import DirectorySettings
from identity.__main__ import SERVICE_ROOT as IDENTITY_ROOT
from identity.app import create_app as create_identity
from identity.settings import IdentitySettings
from notifications import service as notifications_service
from notifications.__main__ import SERVICE_ROOT as NOTIFICATIONS_ROOT
from notifications.app import create_app as create_notifications
from notifications.settings import NotificationsSettings
from portal_shared.events import CloudEvent
from portal_shared.paging import CursorCodec
from portal_shared.settings import ServiceSettings
from portal_testing.cursors import INVALID_CURSOR, INVALID_PRECONDITION, PRECONDITION_FAILED, forged
from portal_testing.oidc import valid_iin
from portal_testing.service import TestIssuer, client_for, migrated_settings, running
from service_requests import consumers as requests_consumers
from service_requests.__main__ import SERVICE_ROOT as REQUESTS_ROOT
from service_requests.app import create_app as create_requests
from service_requests.settings import RequestsSettings

PROBLEM = "urn:baikonur-portal:problem:"
PRECONDITION_REQUIRED = PROBLEM + "precondition-required"
# Each refused the same way everywhere: 400 invalid-cursor.
BAD_CURSORS = {
    "empty": "",
    "not base64": "garbage!",
    "base64 JSON without a tag": "e30",
    "three parts": "a.b.c",
    "signed under another secret": CursorCodec("another-deployment-secret").encode("x", [1]),
}
# Too long to be read at all: refused before it is decoded, the same way on every list.
OVERLONG_CURSOR = "x" * 600
# Each 400 invalid-precondition: not entity tags.
MALFORMED_TAGS = ("3", '"3', "W/3", '"1" "2"', ",", "yesterday")
# Each 412 precondition-failed whatever the current version: no version is 0 or 2^31-1, and
# If-Match compares strongly, so a weak tag never matches.
STALE_TAGS = ('"0"', '"2147483647"', 'W/"1"', 'W/"2"', '"0", W/"1"')

Seed = Callable[[httpx.AsyncClient, TestIssuer, FastAPI], Awaitable[dict[str, str]]]


# --- what each service's routes act on ---------------------------------------------------


async def _ok(response: Awaitable[httpx.Response], status: int = 200) -> dict[str, Any]:
    answered = await response
    assert answered.status_code == status, answered.text
    body: dict[str, Any] = answered.json()
    return body


async def seed_identity(
    client: httpx.AsyncClient, issuer: TestIssuer, app: FastAPI
) -> dict[str, str]:
    """Two residents and two clients, so that each list has a second page."""
    admin = issuer.headers(roles=["admin"])
    accounts = []
    for serial in (1, 40):
        resident = {
            "iin": valid_iin(serial),
            "given_name": "Aliya",
            "family_name": "Nurlanova",
            "email": f"r{serial}@example.kz",
            "phone": "+77011234567",
            "password": "steppe-wind-2026",
        }
        accounts.append(await _ok(client.post("/api/v1/residents", json=resident), 201))
    for client_id in ("reports-a", "reports-b"):
        body = {
            "client_id": client_id,
            "name": "Reports",
            "client_type": "confidential",
            "grant_types": ["client_credentials"],
        }
        await _ok(client.post("/api/v1/clients", json=body, headers=admin), 201)
    return {"account_id": accounts[0]["id"], "client_id": "reports-a"}


def agency_body(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": {"kk": f"{code} басқармасы", "ru": f"Управление {code}", "en": f"{code} office"},
        "kind": "department",
        "bin": "140740190074",
        "city": "Baikonur",
        "address": "Baikonur, Gagarin street, 12",
    }


async def seed_directory(
    client: httpx.AsyncClient, issuer: TestIssuer, app: FastAPI
) -> dict[str, str]:
    """Two agencies, the first changed once (two audit entries)."""
    admin = issuer.headers(roles=["admin"])
    first = await _ok(
        client.post("/api/v1/agencies", json=agency_body("BKR-A"), headers=admin), 201
    )
    await _ok(client.post("/api/v1/agencies", json=agency_body("BKR-B"), headers=admin), 201)
    url = f"/api/v1/agencies/{first['id']}"
    await _ok(client.patch(url, json={"city": "Astana"}, headers={**admin, "If-Match": '"1"'}))
    return {"agency_id": first["id"]}


def state_service_body(code: str, agency_id: str) -> dict[str, Any]:
    text = {"kk": "Мәтін", "ru": "Текст", "en": "Text"}
    return {
        "code": code,
        "name": text,
        "description": text,
        "agency_id": agency_id,
        "term_working_days": 1,
        "fee": {"amount": 0, "currency": "KZT"},
        "result": text,
        "required_documents": [],
        "refusal_grounds": [{"code": "false-documents", "text": text}],
        "channels": ["portal"],
        "form_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"note": {"type": "string", "x-title": text}},
        },
    }


async def seed_catalog(
    client: httpx.AsyncClient, issuer: TestIssuer, app: FastAPI
) -> dict[str, str]:
    """Two published services, the first published twice (two versions, four audit entries)."""
    admin = issuer.headers(roles=["admin"])
    agency = {
        **agency_body("BKR-CIVREG"),
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "urn:baikonur-portal:agency:BKR-CIVREG")),
        "parent_id": None,
        "timezone": "Asia/Almaty",
        "working_hours": {},
        "contacts": {},
        "status": "active",
        "version": 1,
    }
    # The catalog learns agencies from the directory's events; here it is told directly.
    async with app.state.sessionmaker() as session, session.begin():
        await catalog_service.apply_agency(session, agency, kind="registered")
    ids = []
    for code in ("a-one", "b-two"):
        body = state_service_body(code, agency["id"])
        created = await _ok(client.post("/api/v1/services", json=body, headers=admin), 201)
        await _ok(client.post(f"/api/v1/services/{created['id']}/publish", headers=admin))
        ids.append(created["id"])
    url = f"/api/v1/services/{ids[0]}"
    await _ok(client.patch(url, json={"term_working_days": 2}, headers={**admin, "If-Match": "*"}))
    await _ok(client.post(f"{url}/publish", headers=admin))
    return {"service_id": ids[0]}


REQUESTS_AGENCY = uuid.uuid5(uuid.NAMESPACE_URL, "urn:baikonur-portal:agency:BKR-CONSIST")
REQUESTS_SERVICE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:baikonur-portal:service:consistency")
# The walk acts on requests as an officer of the responsible agency: an admin may read every
# request but act on none, so its writes would be refused before any precondition is read.
REQUESTS_OFFICER = {"roles": ["officer"], "agency_id": REQUESTS_AGENCY}


async def seed_requests(
    client: httpx.AsyncClient, issuer: TestIssuer, app: FastAPI
) -> dict[str, str]:
    """Two submissions of one published service, the first accepted (two history entries)."""
    text = {"kk": "Мәтін", "ru": "Текст", "en": "Text"}
    agency: dict[str, Any] = {"id": str(REQUESTS_AGENCY), "code": "BKR-CONSIST", "name": text}
    agency |= {"kind": "department", "timezone": "Asia/Almaty", "status": "active", "version": 1}
    service = state_service_body("consistency", str(REQUESTS_AGENCY))
    service |= {"id": str(REQUESTS_SERVICE), "status": "published", "version": 1}
    # The requests service learns both from events; here its consumers are handed them directly.
    async with app.state.sessionmaker() as session, session.begin():
        await requests_consumers.apply_agency(
            session,
            CloudEvent(
                type="directory.agency.registered.v1",
                source="/directory",
                subject=str(REQUESTS_AGENCY),
                data=agency,
            ),
        )
        await requests_consumers.apply_service(
            session,
            CloudEvent(
                type="catalog.service.published.v1",
                source="/catalog",
                subject=str(REQUESTS_SERVICE),
                data=service,
            ),
        )
    resident = issuer.headers(roles=["resident"], sub=uuid.uuid4())
    made = []
    for note in ("first", "second"):
        body = {"service_id": str(REQUESTS_SERVICE), "form_data": {"note": note}}
        made.append(await _ok(client.post("/api/v1/requests", json=body, headers=resident), 201))
    officer = issuer.headers(**REQUESTS_OFFICER)
    url = f"/api/v1/requests/{made[0]['id']}/actions"
    await _ok(client.post(url, json={"action": "accept"}, headers=officer))
    return {"request_id": made[0]["id"]}


# The administrator who walks: one person, so that their inbox can be seeded.
WALKER = uuid.uuid5(uuid.NAMESPACE_URL, "urn:baikonur-portal:test:consistency-walker")


async def seed_notifications(
    client: httpx.AsyncClient, issuer: TestIssuer, app: FastAPI
) -> dict[str, str]:
    """Two messages in the walker's inbox; two subscriptions, the first paused and resumed
    (two validation deliveries)."""
    events, request_id = [], str(uuid.uuid4())
    for version, (kind, status) in enumerate((("accepted", "in_review"), ("approved", "done"))):
        data = {
            "id": request_id,
            "number": "BKR-2026-000001",
            "status": status,
            "service_id": str(REQUESTS_SERVICE),
            "service_version": 1,
            "agency_id": str(REQUESTS_AGENCY),
            "due_date": "2026-12-15",
            "version": version + 1,
            "occurred_at": datetime.now(UTC).isoformat(),
            "applicant_id": str(WALKER),
        }
        event = CloudEvent(
            type=f"requests.request.{kind}.v1",
            source="/requests",
            subject=request_id,
            data=data,
        )
        events.append((event, kind))
    # The notifications service hears of requests from events; here it is handed them.
    async with app.state.sessionmaker() as session, session.begin():
        await notifications_service.notify_applicants(
            session,
            events,
            public_url="http://localhost:8000",
            mail_domain="portal.test",
            hold_for=timedelta(days=7),
        )
    admin = issuer.headers(roles=["admin"])
    ids = []
    for n in (1, 2):
        body = {"url": f"http://127.0.0.1:9/hook-{n}", "types": ["requests.request.*"]}
        ids.append(
            (await _ok(client.post("/api/v1/subscriptions", json=body, headers=admin), 201))["id"]
        )
    url = f"/api/v1/subscriptions/{ids[0]}"
    for tag, status in (('"1"', "paused"), ('"2"', "active")):
        await _ok(client.patch(url, json={"status": status}, headers={**admin, "If-Match": tag}))
    return {"subscription_id": ids[0]}


@dataclass(frozen=True)
class Subject:
    """A service in the walk: how to build it, and what to create before walking it."""

    name: str
    root: Path
    create_app: Callable[[Any], FastAPI]
    settings: type[ServiceSettings]
    seed: Seed
    extra: dict[str, Any] = field(default_factory=dict)
    # Who writes in the walk (claims of a test token; an admin where None), and the body its
    # writes carry: a write must get past its body's validation to reach its precondition.
    writer: dict[str, Any] | None = None
    write_body: dict[str, Any] = field(default_factory=dict)


CHEAP_HASHES = {"argon2_memory_kib": 1024, "argon2_time_cost": 1}
SUBJECTS: tuple[Subject, ...] = (
    Subject(
        "identity", IDENTITY_ROOT, create_identity, IdentitySettings, seed_identity, CHEAP_HASHES
    ),
    Subject("directory", DIRECTORY_ROOT, create_directory, DirectorySettings, seed_directory),
    Subject("catalog", CATALOG_ROOT, create_catalog, CatalogSettings, seed_catalog),
    Subject(
        "requests",
        REQUESTS_ROOT,
        create_requests,
        RequestsSettings,
        seed_requests,
        writer=REQUESTS_OFFICER,
        write_body={"action": "request_info", "comment": "Please attach the lease"},
    ),
    Subject(
        "notifications",
        NOTIFICATIONS_ROOT,
        create_notifications,
        NotificationsSettings,
        seed_notifications,
        # No sender: the seeded deliveries stay as they are; loopback hooks are accepted.
        {"run_sender": False, "webhooks_allow_http_loopback": True},
        write_body={"description": "Walked"},
    ),
)


# --- the walk ----------------------------------------------------------------------------


@dataclass
class Running:
    name: str
    app: FastAPI
    client: httpx.AsyncClient
    params: dict[str, str]
    document: dict[str, Any]
    writer: dict[str, str]
    write_body: dict[str, Any]

    def url(self, template: str) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            assert name in self.params, f"{self.name}'s seed gives no {name} for {template}"
            return self.params[name]

        return re.sub(r"\{(\w+)\}", fill, template)


@dataclass(frozen=True)
class Route:
    subject: str
    method: str
    path: str
    operation: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.subject}: {self.method.upper()} {self.path}"


def _schemas(document: dict[str, Any], schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schema and every schema it is made of ($ref, anyOf, oneOf, allOf), resolved."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        yield from _schemas(document, document["components"]["schemas"][name])
        return
    yield schema
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            yield from _schemas(document, part)


def _operations(running: Running) -> Iterator[Route]:
    for path, item in running.document["paths"].items():
        for method, operation in item.items():
            yield Route(running.name, method, path, operation)


def lists(running: Running) -> list[Route]:
    """Every GET whose 200 answer has `next_cursor`."""
    found = []
    for route in _operations(running):
        content = route.operation.get("responses", {}).get("200", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        if route.method == "get" and any(
            "next_cursor" in s.get("properties", {}) for s in _schemas(running.document, schema)
        ):
            found.append(route)
    return found


def if_match_routes(running: Running) -> list[Route]:
    return [
        route
        for route in _operations(running)
        if any(
            p["in"] == "header" and p["name"].lower() == "if-match"
            for p in route.operation.get("parameters", [])
        )
    ]


def documents_problem(route: Route, status: int) -> bool:
    content = route.operation.get("responses", {}).get(str(status), {}).get("content", {})
    return "Problem" in str(content.get("application/problem+json", {}).get("schema", {}))


def answer(response: httpx.Response) -> tuple[int, str | None]:
    problem = response.headers.get("content-type") == "application/problem+json"
    return response.status_code, response.json()["type"] if problem else None


async def conditional(
    subject: Running, route: Route, admin: dict[str, str], if_match: str | None
) -> tuple[int, str | None]:
    """The route's answer to a write with this If-Match (and an empty body, if it takes one)."""
    headers = subject.writer if if_match is None else {**subject.writer, "If-Match": if_match}
    body = subject.write_body if "requestBody" in route.operation else None
    response = await subject.client.request(
        route.method, subject.url(route.path), json=body, headers=headers
    )
    return answer(response)


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="module")
def admin(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(roles=["admin"], sub=WALKER)


@pytest.fixture(scope="module")
async def portal(
    postgres_url: str, kafka_bootstrap: str, issuer: TestIssuer, admin: dict[str, str]
) -> AsyncIterator[dict[str, Running]]:
    """Every subject running in-process on its own database, seeded. No relay and no
    consumers: the walk changes nothing that others would need to hear of."""
    async with contextlib.AsyncExitStack() as stack:
        started: dict[str, Running] = {}
        for subject in SUBJECTS:
            settings = await migrated_settings(
                subject.settings,
                subject.root,
                f"{postgres_url}/{subject.name}_consistency",
                kafka_bootstrap,
                kafka_group_prefix="consistency.",
                run_relay=False,
                run_consumers=False,
                **subject.extra,
            )
            app = await stack.enter_async_context(running(subject.create_app(settings), issuer))
            client = await stack.enter_async_context(client_for(app))
            params = await subject.seed(client, issuer, app)
            writer = admin if subject.writer is None else issuer.headers(**subject.writer)
            started[subject.name] = Running(
                subject.name, app, client, params, app.openapi(), writer, subject.write_body
            )
        yield started


NAMES = [s.name for s in SUBJECTS]


@pytest.mark.parametrize("name", NAMES)
async def test_every_list_refuses_bad_cursors_with_one_problem(
    portal: dict[str, Running], admin: dict[str, str], name: str
) -> None:
    subject = portal[name]
    found = lists(subject)
    assert found, f"{name} documents no list (a GET answering next_cursor)"
    wrong = []
    overlong = set()
    for route in found:
        url = subject.url(route.path)
        if not documents_problem(route, 400):
            wrong.append(f"{route} does not document 400 as a problem")
        for label, cursor in BAD_CURSORS.items():
            got = answer(await subject.client.get(url, params={"cursor": cursor}, headers=admin))
            if got != (400, INVALID_CURSOR):
                wrong.append(f"{route} answers {got} to a cursor that is {label}")
        response = await subject.client.get(url, params={"cursor": OVERLONG_CURSOR}, headers=admin)
        overlong.add(answer(response))
    assert not wrong, "\n".join(wrong)
    assert len(overlong) == 1, f"an overlong cursor is refused in several ways: {overlong}"
    (refused,) = overlong
    assert 400 <= refused[0] < 500


async def test_a_cursor_is_taken_only_by_the_list_that_issued_it(
    portal: dict[str, Running], admin: dict[str, str]
) -> None:
    every = [(subject, route) for subject in portal.values() for route in lists(subject)]
    issued = {}
    for subject, route in every:
        url = subject.url(route.path)
        page = await _ok(subject.client.get(url, params={"limit": 1}, headers=admin))
        assert page["next_cursor"], f"{route}: the seed leaves it without a second page"
        issued[str(route)] = page["next_cursor"]
        again = await subject.client.get(url, params={"cursor": page["next_cursor"]}, headers=admin)
        assert again.status_code == 200, f"{route} refuses its own cursor: {again.text}"
    wrong = []
    for subject, route in every:
        url = subject.url(route.path)
        for origin, cursor in issued.items():
            # Its own cursor with the key edited, and every other list's, of every service.
            sent = forged(cursor, "edited") if origin == str(route) else cursor
            got = answer(await subject.client.get(url, params={"cursor": sent}, headers=admin))
            if got != (400, INVALID_CURSOR):
                wrong.append(f"{route} answers {got} to the cursor of {origin}")
    assert not wrong, "\n".join(wrong)


async def test_the_cursor_parameter_is_declared_once_for_all(portal: dict[str, Running]) -> None:
    declared = {
        str(route): next(
            p["schema"] for p in route.operation["parameters"] if p["name"] == "cursor"
        )
        for subject in portal.values()
        for route in lists(subject)
    }
    assert len({repr(schema) for schema in declared.values()}) == 1, declared


@pytest.mark.parametrize("name", NAMES)
async def test_every_if_match_route_reads_preconditions_the_same_way(
    portal: dict[str, Running], admin: dict[str, str], name: str
) -> None:
    subject = portal[name]
    wrong = []
    for route in if_match_routes(subject):
        for status in (400, 412):
            if not documents_problem(route, status):
                wrong.append(f"{route} does not document {status} as a problem")
        for tag in MALFORMED_TAGS:
            got = await conditional(subject, route, admin, tag)
            if got != (400, INVALID_PRECONDITION):
                wrong.append(f"{route} answers {got} to the malformed If-Match {tag!r}")
        for tag in STALE_TAGS:
            got = await conditional(subject, route, admin, tag)
            if got != (412, PRECONDITION_FAILED):
                wrong.append(f"{route} answers {got} to the stale If-Match {tag!r}")
        # Where the precondition is required (and documented so), going without is 428.
        if documents_problem(route, 428):
            got = await conditional(subject, route, admin, None)
            if got != (428, PRECONDITION_REQUIRED):
                wrong.append(f"{route} documents 428 but answers {got} without If-Match")
    assert not wrong, "\n".join(wrong)


def test_the_walk_finds_routes_that_take_if_match(portal: dict[str, Running]) -> None:
    walked = {str(route) for subject in portal.values() for route in if_match_routes(subject)}
    # The writes the services document with optimistic concurrency today, at least.
    assert {
        "identity: PATCH /api/v1/users/{account_id}",
        "directory: PATCH /api/v1/agencies/{agency_id}",
        "catalog: PATCH /api/v1/services/{service_id}",
        "requests: POST /api/v1/requests/{request_id}/actions",
        "notifications: PATCH /api/v1/subscriptions/{subscription_id}",
    } <= walked, walked
