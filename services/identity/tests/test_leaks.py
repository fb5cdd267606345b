"""Smaller leaks (issue 15): who may introspect whose tokens (RFC 7662 2.1), personal data kept
out of caches, and registration's "this account exists" answer throttled per client address."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from portal_testing.oidc import ADMIN_PASSWORD, TEST_AGENCY_ID, sign_in_with_pkce, valid_iin
from portal_testing.service import client_for


async def _confidential(
    client: httpx.AsyncClient, headers: dict[str, str], client_id: str, **extra: Any
) -> str:
    created = await client.post(
        "/api/v1/clients",
        json={
            "client_id": client_id,
            "name": client_id,
            "client_type": "confidential",
            "grant_types": ["client_credentials"],
            "scopes": ["requests:read"],
            "agency_id": str(TEST_AGENCY_ID),
            **extra,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["introspection"] is extra.get("introspection", False)
    secret: str = created.json()["client_secret"]
    return secret


async def test_only_resource_servers_and_the_tokens_own_client_may_introspect(
    client: httpx.AsyncClient, admin_headers: dict[str, str], admin_tokens: Any
) -> None:
    agency = await _confidential(client, admin_headers, "agency-system")
    resource_server = await _confidential(
        client, admin_headers, "resource-server", introspection=True
    )
    person = {"token": admin_tokens.access_token}

    # Another client's token, to a client that is no resource server: nothing is said.
    other = await client.post("/auth/introspect", data=person, auth=("agency-system", agency))
    assert other.status_code == 200
    assert other.json() == {"active": False}

    # A resource server learns what the token stands for.
    allowed = await client.post(
        "/auth/introspect", data=person, auth=("resource-server", resource_server)
    )
    assert allowed.json()["active"] is True
    assert allowed.json()["roles"] == ["admin"]

    # A client may always introspect its own token.
    own = await client.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=("agency-system", agency)
    )
    mine = await client.post(
        "/auth/introspect",
        data={"token": own.json()["access_token"]},
        auth=("agency-system", agency),
    )
    assert mine.json()["active"] is True
    assert mine.json()["client_id"] == "agency-system"


async def test_a_public_client_cannot_be_a_resource_server(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/clients",
        json={
            "client_id": "browser-app",
            "name": "Browser",
            "client_type": "public",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://app.example.kz/cb"],
            "introspection": True,
        },
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith(":invalid-client-registration")
    assert "introspect" in response.json()["detail"]


async def test_personal_data_is_never_stored_by_caches(
    client: httpx.AsyncClient, parties: None
) -> None:
    tokens = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    bearer = {"Authorization": f"Bearer {tokens.access_token}"}
    me = await client.get("/api/v1/me", headers=bearer)
    assert me.status_code == 200
    assert me.headers["cache-control"] == "no-store"
    userinfo = await client.get("/auth/userinfo", headers=bearer)
    assert userinfo.status_code == 200
    assert userinfo.headers["cache-control"] == "no-store"
    # RFC 6749 5.1: the token response too.
    assert tokens.body["access_token"]
    refreshed = await client.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token or "",
            "client_id": "portal-web",
        },
    )
    assert refreshed.headers["cache-control"] == "no-store"
    assert refreshed.headers["pragma"] == "no-cache"


def _resident(iin: str, email: str) -> dict[str, str]:
    return {
        "iin": iin,
        "given_name": "Aruzhan",
        "family_name": "Probe",
        "email": email,
        "phone": "+77010000099",
        "password": "resident-pass-123",
    }


async def test_probing_registration_for_existing_accounts_is_throttled_per_address(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    taken = valid_iin(41)
    assert (
        await client.post("/api/v1/residents", json=_resident(taken, "taken@example.kz"))
    ).status_code == 201
    # Someone tries IINs and emails to learn who has an account: the first answers say so...
    for n in range(3):
        probe = await client.post(
            "/api/v1/residents", json=_resident(taken, f"probe{n}@example.kz")
        )
        assert probe.status_code == 409
    # ...then this address is refused for a while, whatever it sends.
    throttled = await client.post(
        "/api/v1/residents", json=_resident(valid_iin(42), "new@example.kz")
    )
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    # Residents registering from elsewhere are not affected.
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        fresh = await other.post(
            "/api/v1/residents", json=_resident(valid_iin(42), "new@example.kz")
        )
    assert fresh.status_code == 201


async def test_the_registration_throttle_is_documented(app: FastAPI) -> None:
    async with client_for(app) as client:
        document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/residents"]["post"]
    assert "429" in operation["responses"]
    assert "409" in operation["responses"]
    assert "per client address" in operation["description"]
