"""Every operation of identity that takes a token needs its scope, for every kind of token
(portal_shared.scopes): walked over the routes and the OpenAPI document with identity's own
tokens, from a client registered with every scope that asks for all but the needed ones."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from identity.api import router as api_router
from identity.oauth_api import router as oauth_router
from portal_shared.scopes import SCOPES
from portal_testing.oidc import ADMIN_PASSWORD, sign_in_with_pkce
from portal_testing.scopes import INSUFFICIENT_SCOPE, under_scoped_answers, unscoped_routes

ALL_SCOPES_CLIENT = {
    "client_id": "every-scope",
    "name": "Holds every scope",
    "client_type": "confidential",
    "grant_types": ["client_credentials"],
    "scopes": list(SCOPES),
}


def test_every_route_that_takes_a_token_requires_a_scope() -> None:
    assert unscoped_routes([api_router, oauth_router]) == []


async def test_an_under_scoped_token_is_refused_on_every_protected_operation(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await client.post("/api/v1/clients", json=ALL_SCOPES_CLIENT, headers=admin_headers)
    assert created.status_code == 201, created.text
    secret = created.json()["client_secret"]

    async def headers_for(scope: str) -> dict[str, str]:
        issued = await client.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=("every-scope", secret),
        )
        assert issued.status_code == 200, issued.text
        assert issued.json()["scope"] == scope
        return {"Authorization": f"Bearer {issued.json()['access_token']}"}

    assert await under_scoped_answers(client, app.openapi(), headers_for) == []


@pytest.mark.parametrize("scopes", [["requests:reed"], ["openid", "admin"], ["*"]])
async def test_a_client_is_registered_only_with_known_scopes(
    client: httpx.AsyncClient, admin_headers: dict[str, str], scopes: list[str]
) -> None:
    response = await client.post(
        "/api/v1/clients", json={**ALL_SCOPES_CLIENT, "scopes": scopes}, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_sign_in_asking_only_openid_gets_only_openid_and_the_api_refuses_it(
    client: httpx.AsyncClient, parties: None
) -> None:
    narrow = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD, scope="openid")
    assert narrow.body["scope"] == "openid"
    headers = {"Authorization": f"Bearer {narrow.access_token}"}
    me = await client.get("/api/v1/me", headers=headers)
    users = await client.get("/api/v1/users", headers=headers)
    assert me.json()["type"] == INSUFFICIENT_SCOPE
    assert users.json()["type"] == INSUFFICIENT_SCOPE
    assert (await client.get("/auth/userinfo", headers=headers)).status_code == 200
    # Asking for nothing: every scope portal-web is registered with, as before.
    wide = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD, scope="")
    assert set(wide.body["scope"].split()) >= {"accounts:read", "users:admin", "requests:read"}
    wide_headers = {"Authorization": f"Bearer {wide.access_token}"}
    assert (await client.get("/api/v1/users", headers=wide_headers)).status_code == 200
