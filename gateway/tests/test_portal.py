"""Through the gateway to the real service processes: every route reaches its own service."""

from __future__ import annotations

import re

import httpx
import pytest

from portal_shared.scopes import SCOPES
from portal_testing.processes import Connect, Process
from portal_testing.service import TestIssuer

# The plain bearer alternative every token-taking operation lists beside its OAuth2 scopes.
BEARER: dict[str, list[str]] = {"bearer": []}

ROUTES = [
    ("GET", "/auth/.well-known/openid-configuration", "identity", False),
    ("POST", "/api/v1/residents", "identity", False),
    ("GET", "/api/v1/me", "identity", True),
    ("GET", "/api/v1/users/x", "identity", True),
    ("GET", "/api/v1/clients/x", "identity", True),
    ("GET", "/api/v1/agencies", "directory", False),
    ("GET", "/api/v1/services", "catalog", False),
    ("GET", "/api/v1/requests", "requests", True),
]


async def _handled(service: Process) -> float:
    """How many requests the service has handled, by its own metrics (not counting these)."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{service.url}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("portal_http_requests_total{") and 'route="/metrics"' not in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize(("method", "path", "name", "needs_token"), ROUTES)
async def test_each_route_reaches_its_service(
    portal: Process,
    services: dict[str, Process],
    connect: Connect,
    issuer: TestIssuer,
    method: str,
    path: str,
    name: str,
    needs_token: bool,
) -> None:
    before = {n: await _handled(s) for n, s in services.items()}
    headers = issuer.headers(roles=["admin"]) if needs_token else {}
    async with connect(portal, "127.0.0.51") as client:
        response = await client.request(method, path, headers=headers)
    # Whatever the service answers (its API is being built), it is the service's answer.
    assert response.status_code not in (502, 503, 504), response.text
    after = {n: await _handled(s) for n, s in services.items()}
    reached = {n for n in services if after[n] > before[n]}
    assert reached == {name}


async def test_readyz_reports_every_service(portal: Process, connect: Connect) -> None:
    async with connect(portal) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": dict.fromkeys(
            ("catalog", "directory", "identity", "notifications", "requests"), "ok"
        ),
    }


async def test_openapi_comes_from_the_real_services(portal: Process, connect: Connect) -> None:
    async with connect(portal) as client:
        document = (await client.get("/openapi.json")).json()
    assert "x-unavailable-services" not in document
    assert "Problem" in document["components"]["schemas"]
    # Only public paths: no service's health or internal endpoints.
    assert all(re.match(r"^/(auth|api/v1)/", path) for path in document["paths"])


async def test_the_merged_document_lists_every_scope_and_each_operations(
    portal: Process, connect: Connect
) -> None:
    async with connect(portal) as client:
        document = (await client.get("/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["oauth2"]
    assert scheme["flows"]["authorizationCode"]["scopes"] == SCOPES
    paths = document["paths"]
    # Each names its scopes; a bearer token got elsewhere is the other way in.
    assert paths["/api/v1/requests"]["get"]["security"] == [{"oauth2": ["requests:read"]}, BEARER]
    assert paths["/api/v1/requests"]["post"]["security"] == [{"oauth2": ["requests:write"]}, BEARER]
    assert paths["/api/v1/me"]["get"]["security"] == [{"oauth2": ["accounts:read"]}, BEARER]
    assert paths["/api/v1/agencies"]["post"]["security"] == [{"oauth2": ["agencies:write"]}, BEARER]
    # A public read: no token at all, or one with the admin's scope for the drafts.
    assert {} in paths["/api/v1/services"]["get"]["security"]
    assert "security" not in paths["/api/v1/agencies"]["get"]
