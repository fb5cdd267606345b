"""The objects the hostile suite attacks, and the people whose reads must survive it.

On the fuzz portal (tests/fuzz/portal.py) it loads `make run`'s demo data with the services'
own seeders (agencies, published state services, the demo officer and agency system), has a
resident submit one valid request to every demo service, and makes a hostile corner of its
own: an agency whose published service has an open form (any property, any shape: the
original attack's target), one request there, and sacrificial objects (an agency, a
service, an account, a client) for the operations that change or disable what their path
names, so that the walk cannot deactivate what the final reads need.

Every caller is a real token of identity, as the gateway sees them: a resident, an officer
of the hostile agency, the administrator, an agency system (client credentials) and
anonymous; plus the bad tokens (revoked, expired, wrong audience, under-scoped).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from catalog.seed import seed as seed_catalog
from directory.demo import demo_agencies
from directory.demo import seed as seed_directory
from identity.__main__ import DEMO_AGENCY_ID, _seed_agency_bound
from identity.models import Agency as IdentityAgency
from identity.passwords import Passwords
from portal_shared.db import make_engine, make_sessionmaker
from portal_testing.oidc import authorization_code, exchange, pkce_pair, valid_iin
from tests.fuzz.bodies import FORM_SCHEMA, PASSWORD, agency_body, resident_body, service_body
from tests.fuzz.portal import ADMIN, WAIT_SECONDS, Portal, _until_created

DEMO_OFFICER = ("officer-migration", "officer-demo-password")
DEMO_SYSTEM = ("agency-demo", "agency-demo-secret")
# IIN serials of this suite's residents, spaced (valid_iin may skip to the next serial).
HOSTILE_RESIDENT, DEMO_RESIDENT, REVOKED_RESIDENT, SACRIFICE = 7010, 7020, 7030, 7040
# A form whose object accepts anything: what a deep, wide or odd form_data reaches.
OPEN_FORM: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": True,
    "properties": {
        "items": {
            "type": "array",
            "items": {"type": "object"},
            "x-title": {"kk": "Тізім", "ru": "Список", "en": "Items"},
        }
    },
}
SYSTEM_SCOPES = ["requests:read", "requests:write"]


@dataclass
class Target:
    """What the walk aims at and who walks it."""

    demo_agency_ids: list[str]
    demo_requests: list[dict[str, Any]]
    hostile_agency: str
    open_service: str
    hostile_request: dict[str, Any]
    sacrificial: dict[str, str]
    callers: dict[str, dict[str, str]]
    # Officers (agency id, username, password) whose lists must still read at the end.
    officers: list[tuple[str, str, str]] = field(default_factory=list)
    residents: list[str] = field(default_factory=list)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _seed_demo(portal: Portal) -> None:
    """`seed-demo` of directory, catalog and identity against the portal's databases."""
    settings = {name: served.settings for name, served in portal.served.items()}
    for name in ("directory", "catalog", "identity"):
        engine = make_engine(settings[name].database_url, pool_size=2)
        maker = make_sessionmaker(engine)
        try:
            if name == "directory":
                await seed_directory(maker)
            elif name == "catalog":
                await seed_catalog(maker, wait_seconds=WAIT_SECONDS)
            else:
                deadline = time.monotonic() + WAIT_SECONDS
                while True:
                    async with maker() as session:
                        agency = await session.get(IdentityAgency, DEMO_AGENCY_ID)
                    if agency is not None and agency.status == "active":
                        break
                    assert time.monotonic() < deadline, "the demo agency never reached identity"
                    await asyncio.sleep(0.2)
                identity = settings["identity"]
                passwords = Passwords(
                    memory_kib=identity.argon2_memory_kib,  # type: ignore[attr-defined]
                    time_cost=identity.argon2_time_cost,  # type: ignore[attr-defined]
                )
                async with maker() as session, session.begin():
                    await _seed_agency_bound(session, identity, passwords)  # type: ignore[arg-type]
        finally:
            await engine.dispose()


def sign_in(portal: Portal, username: str, password: str = PASSWORD, scope: str = "") -> str:
    """An access token of identity through the code flow (with `scope` if given)."""

    async def flow() -> str:
        async with httpx.AsyncClient(base_url=portal.url("identity"), timeout=30.0) as web:
            verifier, challenge = pkce_pair()
            extra = {"scope": scope} if scope else {}
            code = await authorization_code(web, username, password, challenge, **extra)
            answer = await exchange(web, code, verifier)
            assert answer.status_code == 200, answer.text
            token: str = answer.json()["access_token"]
            return token

    token: str = _run(flow())
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_token(portal: Portal, client_id: str, secret: str) -> str:
    with portal.client("identity") as identity:
        answer = identity.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": " ".join(SYSTEM_SCOPES)},
            auth=(client_id, secret),
        )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def register(portal: Portal, serial: int) -> str:
    with portal.client("identity") as identity:
        created = identity.post("/api/v1/residents", json=resident_body(serial))
    assert created.status_code == 201, created.text
    account: str = created.json()["id"]
    return account


# Values for a demo form, by the shape of a property (the demo forms use only these).
PATTERNS = {
    "^\\+7[0-9]{10}$": "+77011234567",
    "^[A-Z]{2}$": "KZ",
    "^[0-9]{2}:[0-9]{3}:[0-9]{3}:[0-9]{1,6}$": "01:234:567:8",
}


def form_value(schema: dict[str, Any], serial: int) -> Any:
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {k: form_value(properties.get(k, {}), serial) for k in schema.get("required", [])}
    if kind == "array":
        return [form_value(schema.get("items", {}), serial)] * schema.get("minItems", 0)
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    pattern = schema.get("pattern", "")
    if pattern == "^[0-9]{12}$":
        return valid_iin(serial)
    if pattern in PATTERNS:
        return PATTERNS[pattern]
    if schema.get("format") == "date":
        return "2026-01-15"
    if schema.get("format") == "email":
        return "aliya@example.kz"
    return "Baikonur"


def _demo_requests(
    gateway: httpx.Client, demo_ids: set[str], resident: dict[str, str]
) -> list[dict[str, Any]]:
    """One valid request to every published demo service (the ones a form can fill)."""
    listed = gateway.get("/api/v1/services", params={"limit": 200}).json()["items"]
    made = []
    for item in listed:
        if item["agency_id"] not in demo_ids:
            continue
        full = gateway.get(f"/api/v1/services/{item['id']}").json()
        form = form_value(full.get("form_schema") or {"type": "object"}, DEMO_RESIDENT)
        answer = gateway.post(
            "/api/v1/requests",
            json={"service_id": item["id"], "form_data": form},
            headers=resident,
        )
        if answer.status_code == 201:
            made.append(answer.json())
    assert made, "no demo service took a request"
    return made


def build_target(portal: Portal) -> Target:
    _run(_seed_demo(portal))
    admin = bearer(sign_in(portal, *ADMIN))
    demo_ids = {str(the_id) for the_id, _ in demo_agencies()}
    for serial in (HOSTILE_RESIDENT, DEMO_RESIDENT, REVOKED_RESIDENT):
        register(portal, serial)
    sacrificial_account = register(portal, SACRIFICE)
    n = uuid.uuid4().hex[:6].upper()
    with portal.client("gateway") as gateway:
        agencies = []
        for suffix in ("H", "S"):  # the hostile agency, the sacrificial one
            created = gateway.post(
                "/api/v1/agencies", json=agency_body(f"BKR-HS{n}{suffix}"), headers=admin
            )
            assert created.status_code == 201, created.text
            agencies.append(created.json())
        hostile, sacrificed = agencies

        def service(code: str, form: dict[str, Any]) -> str:
            made = _until_created(
                lambda: gateway.post(
                    "/api/v1/services",
                    json=service_body(code, hostile["id"], form_schema=form),
                    headers=admin,
                )
            )
            published = gateway.post(f"/api/v1/services/{made['id']}/publish", headers=admin)
            assert published.status_code == 200, published.text
            return str(made["id"])

        open_service = service(f"hs-open-{n.lower()}", OPEN_FORM)
        sacrificial_service = service(f"hs-sac-{n.lower()}", FORM_SCHEMA)
        resident = bearer(sign_in(portal, valid_iin(HOSTILE_RESIDENT)))
        hostile_request = _until_created(
            lambda: gateway.post(
                "/api/v1/requests",
                json={"service_id": open_service, "form_data": {"items": [{"a": 1}]}},
                headers=resident,
            )
        )
        demo_resident = bearer(sign_in(portal, valid_iin(DEMO_RESIDENT)))
        demo_requests = _demo_requests(gateway, demo_ids, demo_resident)
        clients = {}
        for role in ("system", "sacrificial"):
            body = {
                "client_id": f"hostile-{role}-{n.lower()}",
                "name": f"Hostile suite {role}",
                "client_type": "confidential",
                "grant_types": ["client_credentials"],
                "scopes": SYSTEM_SCOPES,
                "agency_id": hostile["id"],
            }
            clients[role] = _until_created(
                lambda body=body: gateway.post("/api/v1/clients", json=body, headers=admin)  # type: ignore[misc]
            )
    hostile_officer = portal.officer(hostile["id"])
    demo_agency_ids = sorted({r["agency_id"] for r in demo_requests})
    officers = [(str(DEMO_AGENCY_ID), *DEMO_OFFICER), (hostile["id"], hostile_officer, PASSWORD)]
    officers += [(a, portal.officer(a), PASSWORD) for a in demo_agency_ids]
    callers = {
        "anonymous": {},
        "resident": resident,
        "officer": bearer(sign_in(portal, hostile_officer)),
        "admin": admin,
        "agency_system": bearer(
            client_token(portal, clients["system"]["client_id"], clients["system"]["client_secret"])
        ),
    }
    return Target(
        demo_agency_ids=demo_agency_ids,
        demo_requests=demo_requests,
        hostile_agency=hostile["id"],
        open_service=open_service,
        hostile_request=hostile_request,
        sacrificial={
            "account_id": sacrificial_account,
            "client_id": clients["sacrificial"]["client_id"],
            "agency_id": sacrificed["id"],
            "code": sacrificed["code"],
            "service_id": sacrificial_service,
            "request_id": hostile_request["id"],
            "number": "1",
        },
        callers=callers,
        officers=officers,
        residents=[
            valid_iin(1),
            valid_iin(2),
            valid_iin(HOSTILE_RESIDENT),
            valid_iin(DEMO_RESIDENT),
        ],
    )


# Where a resident's token is honoured: the gateway and the verifiers behind it.
HONOURED = (
    ("gateway", "/api/v1/requests"),
    ("requests", "/api/v1/requests"),
    ("identity", "/api/v1/me"),
)


def revoked_token(portal: Portal) -> dict[str, str]:
    """A resident's access token revoked at identity (RFC 7009), once the gateway and the
    services (which had verified and cached it) all refuse it."""
    token = sign_in(portal, valid_iin(REVOKED_RESIDENT))
    for component, path in HONOURED:
        with portal.client(component) as client:
            assert client.get(path, headers=bearer(token)).status_code == 200, component
    with portal.client("gateway") as gateway:
        revoked = gateway.post("/auth/revoke", data={"token": token, "client_id": "portal-web"})
        assert revoked.status_code == 200, revoked.text
    deadline = time.monotonic() + WAIT_SECONDS
    for component, path in HONOURED:
        with portal.client(component) as client:
            while client.get(path, headers=bearer(token)).status_code != 401:
                assert time.monotonic() < deadline, f"{component} still takes the revoked token"
                time.sleep(0.2)
    return bearer(token)
