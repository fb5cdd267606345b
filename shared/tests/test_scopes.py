"""Scopes mean something (portal_shared.scopes): every kind of token needs the operation's
scope, refused as RFC 6750 3.1 says; roles still apply on top; the OpenAPI document says
which scopes each operation needs."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI

from portal_shared.app import ServiceSpec, create_service_app
from portal_shared.auth import Principal
from portal_shared.errors import install_error_handlers
from portal_shared.scopes import (
    REQUESTS_READ,
    REQUESTS_WRITE,
    SCOPES,
    SERVICES_WRITE,
    optional_scope,
    require_scope,
)
from portal_shared.settings import ServiceSettings
from portal_testing.service import TestIssuer, client_for

Reader = Annotated[Principal, Depends(require_scope(REQUESTS_READ))]
Officer = Annotated[Principal, Depends(require_scope(REQUESTS_WRITE, roles=["officer"]))]
Viewer = Annotated[Principal | None, Depends(optional_scope(SERVICES_WRITE, roles=["admin"]))]


def _router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/things")

    @router.get("")
    async def read_things(principal: Reader) -> dict[str, str]:
        return {"sub": principal.subject}

    @router.post("")
    async def approve_thing(principal: Officer) -> dict[str, str]:
        return {"sub": principal.subject}

    @router.get("/public")
    async def public_things(principal: Viewer) -> dict[str, bool]:
        return {"privileged": principal is not None}

    return router


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def app(issuer: TestIssuer) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.token_verifier = issuer.verifier()
    app.include_router(_router())
    return app


@pytest.mark.parametrize(
    "token",
    [
        {"roles": ["resident"], "scope": "openid profile"},
        {"roles": ["admin"], "scope": "openid requests:write"},
        {"sub": "agency-x", "client_id": "agency-x", "roles": [], "scope": "requests:write"},
    ],
    ids=["resident", "admin", "agency-system"],
)
async def test_a_token_without_the_scope_is_refused_whoever_holds_it(
    app: FastAPI, issuer: TestIssuer, token: dict[str, object]
) -> None:
    async with client_for(app) as client:
        response = await client.get("/api/v1/things", headers=issuer.headers(**token))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(":insufficient-scope")
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="requests:read"'
    )


async def test_the_scope_lets_every_kind_of_token_through(app: FastAPI, issuer: TestIssuer) -> None:
    async with client_for(app) as client:
        person = await client.get(
            "/api/v1/things", headers=issuer.headers(sub="p" * 8, scope=REQUESTS_READ)
        )
        system = await client.get(
            "/api/v1/things",
            headers=issuer.headers(sub="sys", client_id="sys", roles=[], scope=REQUESTS_READ),
        )
    assert person.json() == {"sub": "p" * 8}
    assert system.json() == {"sub": "sys"}


async def test_roles_still_apply_on_top_of_the_scope(app: FastAPI, issuer: TestIssuer) -> None:
    async with client_for(app) as client:
        resident = await client.post(
            "/api/v1/things", headers=issuer.headers(roles=["resident"], scope=REQUESTS_WRITE)
        )
        unscoped = await client.post(
            "/api/v1/things", headers=issuer.headers(roles=["officer"], scope=REQUESTS_READ)
        )
        officer = await client.post(
            "/api/v1/things", headers=issuer.headers(roles=["officer"], scope=REQUESTS_WRITE)
        )
    assert resident.status_code == 403
    assert resident.json()["detail"] == "This needs the role officer"
    assert unscoped.json()["type"].endswith(":insufficient-scope")
    assert officer.status_code == 200


async def test_a_public_read_shows_more_only_to_a_token_with_the_scope_and_role(
    app: FastAPI, issuer: TestIssuer
) -> None:
    async def privileged(headers: dict[str, str]) -> bool:
        async with client_for(app) as client:
            response = await client.get("/api/v1/things/public", headers=headers)
        assert response.status_code == 200
        return bool(response.json()["privileged"])

    assert not await privileged({})
    assert not await privileged(issuer.headers(roles=["admin"], scope="openid"))
    assert not await privileged(issuer.headers(roles=["resident"], scope=SERVICES_WRITE))
    assert await privileged(issuer.headers(roles=["admin"], scope=SERVICES_WRITE))


def test_an_unknown_scope_in_a_route_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown scopes"):
        require_scope("requests:reed")


async def test_the_openapi_document_lists_each_operations_scopes() -> None:
    app = create_service_app(
        ServiceSpec(
            name="scopes-test",
            title="Scopes test",
            description="",
            settings=ServiceSettings(),
            routers=[_router()],
        )
    )
    async with client_for(app) as client:
        document = (await client.get("/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["oauth2"]
    assert scheme["flows"]["clientCredentials"]["scopes"] == SCOPES
    paths = document["paths"]
    # The OAuth2 requirement names the scopes; a bearer token got elsewhere is the other way in.
    bearer: dict[str, list[str]] = {"bearer": []}
    assert paths["/api/v1/things"]["get"]["security"] == [{"oauth2": [REQUESTS_READ]}, bearer]
    assert paths["/api/v1/things"]["post"]["security"] == [{"oauth2": [REQUESTS_WRITE]}, bearer]
    public = paths["/api/v1/things/public"]["get"]["security"]
    assert public == [{"oauth2": [SERVICES_WRITE]}, bearer, {}]
    assert "x-required-scopes" not in json.dumps(paths)
