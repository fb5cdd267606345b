"""API9:2023 Improper inventory management: every route a service answers is in its OpenAPI
document (or is one of the few operational endpoints every process has), and every
documented operation is really served."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from tests.fuzz.portal import COMPONENTS, Portal

# Served by every process by design (CONTRACT.md), outside the API document.
OPERATIONAL = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/asyncapi.json",
    "/docs",
    "/docs/oauth2-redirect",
}
# Identity's public OpenID Connect documents, and its logout, which always signs out
# (a page or the client's redirect): none has a client error to give.
OIDC_METADATA = {"/auth/.well-known/openid-configuration", "/auth/jwks", "/auth/logout"}


def served_operations(portal: Portal, component: str) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers, walking included routers (FastAPI
    keeps them as `_IncludedRouter` entries holding the original `APIRouter`; the services
    include theirs without an extra prefix, so the routes' own paths are the served ones)."""
    found: set[tuple[str, str]] = set()
    pending: list[Any] = list(portal.served[component].app.routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)
        if included is not None:
            pending.extend(included.routes)
        elif isinstance(route, (APIRoute, Route)):
            found.update((m, route.path) for m in route.methods or () if m != "HEAD")
    return found


@pytest.mark.parametrize("component", [c.name for c in COMPONENTS])
def test_every_route_is_documented_and_every_documented_route_served(
    portal: Portal, component: str
) -> None:
    with portal.client(component) as client:
        document = client.get("/openapi.json").json()
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = served_operations(portal, component)
    undocumented = {(m, p) for m, p in served - documented if p not in OPERATIONAL}
    assert not undocumented, f"served but not documented: {sorted(undocumented)}"
    assert not documented - served, f"documented but not served: {sorted(documented - served)}"
    # Everything is versioned under /api/v1, so a v2 can sit beside it; identity's OAuth and
    # OpenID Connect endpoints live under /auth, where their standards' clients look.
    api_paths = {p for _, p in documented if p not in OPERATIONAL}
    assert all(p.startswith(("/api/v1/", "/auth/")) for p in api_paths), sorted(api_paths)
    assert all(p.startswith("/api/v1/") for p in api_paths if component != "identity")


@pytest.mark.parametrize("component", [c.name for c in COMPONENTS])
def test_the_document_describes_every_operations_errors(portal: Portal, component: str) -> None:
    with portal.client(component) as client:
        document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert (
                any(s.startswith("4") for s in statuses) or path in OPERATIONAL | OIDC_METADATA
            ), f"{method.upper()} {path} documents no client error"
