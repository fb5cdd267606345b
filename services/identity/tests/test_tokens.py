"""Refresh rotation and family revocation, client credentials for agency systems, revocation,
introspection, RP-initiated logout and signing-key rotation (acceptance 1 and 5)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fastapi import FastAPI

from portal_shared.auth import TokenVerifier
from portal_shared.errors import Unauthorized
from portal_testing.oidc import ADMIN_PASSWORD, TEST_AGENCY_ID, refresh, sign_in_with_pkce


def verifier_for(app: FastAPI) -> TokenVerifier:
    """A resource server's verifier (portal_shared), fetching this identity service's JWKS."""
    return TokenVerifier(
        issuer="http://localhost:8000/auth",
        audience="portal-api",
        jwks_url="http://identity/auth/jwks",
        min_refetch_interval=0.0,
        http=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity"),
    )


async def test_refresh_rotates_and_reuse_revokes_the_family(
    client: httpx.AsyncClient, parties: None
) -> None:
    tokens = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    assert tokens.refresh_token is not None
    first = await refresh(client, tokens.refresh_token)
    assert first.status_code == 200, first.text
    rotated = first.json()["refresh_token"]
    assert rotated != tokens.refresh_token
    second = await refresh(client, rotated)
    assert second.status_code == 200
    latest = second.json()["refresh_token"]
    # An attacker replays the spent first token: refused, and the whole family dies,
    # so the latest token (held by the legitimate client or the attacker) stops working.
    reuse = await refresh(client, tokens.refresh_token)
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    after = await refresh(client, latest)
    assert after.status_code == 400
    # A fresh sign-in starts a new family that works.
    again = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    assert (await refresh(client, again.refresh_token or "")).status_code == 200


async def _agency_client(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    introspection: bool = False,
    client_id: str = "agency-system",
) -> dict[str, Any]:
    created = await client.post(
        "/api/v1/clients",
        json={
            "client_id": client_id,
            "name": "Agency system",
            "client_type": "confidential",
            "grant_types": ["client_credentials"],
            "scopes": ["requests:read", "requests:write"],
            "agency_id": str(TEST_AGENCY_ID),
            "introspection": introspection,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def test_client_credentials_token_for_an_agency_system(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    registered = await _agency_client(client, admin_headers)
    secret = registered["client_secret"]
    response = await client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "requests:read"},
        auth=("agency-system", secret),
    )
    assert response.status_code == 200, response.text
    verifier = verifier_for(app)
    try:
        principal = await verifier.verify(response.json()["access_token"])
    finally:
        await verifier.aclose()
    assert principal.is_client
    assert principal.subject == "agency-system"
    assert principal.roles == frozenset()
    assert principal.scopes == {"requests:read"}
    assert principal.agency_id == TEST_AGENCY_ID
    assert "refresh_token" not in response.json()
    greedy = await client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "requests:read admin"},
        auth=("agency-system", secret),
    )
    assert greedy.json()["scope"] == "requests:read"
    wrong = await client.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=("agency-system", "nope")
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"


async def test_rotated_client_secret_replaces_the_old_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    old = (await _agency_client(client, admin_headers))["client_secret"]
    rotated = await client.post("/api/v1/clients/agency-system/secret", headers=admin_headers)
    assert rotated.status_code == 200
    new = rotated.json()["client_secret"]
    grant = {"grant_type": "client_credentials"}
    assert (
        await client.post("/auth/token", data=grant, auth=("agency-system", old))
    ).status_code == 401
    assert (
        await client.post("/auth/token", data=grant, auth=("agency-system", new))
    ).status_code == 200
    listed = (await client.get("/api/v1/clients", headers=admin_headers)).json()
    assert {c["client_id"] for c in listed["items"]} == {"agency-system", "portal-web"}
    assert all("client_secret" not in c for c in listed["items"])


async def test_public_client_cannot_use_client_credentials(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/clients",
        json={
            "client_id": "mobile-app",
            "name": "Mobile",
            "client_type": "public",
            "grant_types": ["client_credentials"],
        },
        headers=admin_headers,
    )
    assert response.status_code == 422
    token = await client.post(
        "/auth/token", data={"grant_type": "client_credentials", "client_id": "portal-web"}
    )
    assert token.status_code in (400, 401)


async def test_revoked_refresh_token_stops_working_and_introspection_says_so(
    client: httpx.AsyncClient, admin_headers: dict[str, str], admin_tokens: Any
) -> None:
    # A resource server: it may introspect the tokens of other clients.
    secret = (await _agency_client(client, admin_headers, introspection=True))["client_secret"]
    intro = await client.post(
        "/auth/introspect",
        data={"token": admin_tokens.access_token},
        auth=("agency-system", secret),
    )
    assert intro.status_code == 200
    assert intro.json()["active"] is True
    assert intro.json()["roles"] == ["admin"]
    revoked = await client.post(
        "/auth/revoke", data={"token": admin_tokens.refresh_token, "client_id": "portal-web"}
    )
    assert revoked.status_code == 200
    assert (await refresh(client, admin_tokens.refresh_token)).status_code == 400
    await client.post(
        "/auth/revoke", data={"token": admin_tokens.access_token, "client_id": "portal-web"}
    )
    intro = await client.post(
        "/auth/introspect",
        data={"token": admin_tokens.access_token},
        auth=("agency-system", secret),
    )
    assert intro.json() == {"active": False}
    public = await client.post(
        "/auth/introspect", data={"token": admin_tokens.access_token, "client_id": "portal-web"}
    )
    assert public.status_code in (400, 401)


async def test_logout_ends_the_session_and_returns_to_the_client(
    client: httpx.AsyncClient, admin_tokens: Any
) -> None:
    response = await client.get(
        "/auth/logout",
        params={
            "id_token_hint": admin_tokens.id_token,
            "post_logout_redirect_uri": "http://localhost:8000/",
            "state": "bye",
        },
    )
    assert response.status_code == 302
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "http://localhost:8000/"
    assert parse_qs(target.query)["state"] == ["bye"]
    assert (await refresh(client, admin_tokens.refresh_token)).status_code == 400
    elsewhere = await client.get(
        "/auth/logout",
        params={
            "id_token_hint": admin_tokens.id_token,
            "post_logout_redirect_uri": "https://evil.example/",
        },
    )
    assert elsewhere.status_code == 200
    assert "location" not in elsewhere.headers


async def test_key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    before = await sign_in_with_pkce(client, "admin", "admin-test-password-1")
    old_kid = jwt.get_unverified_header(before.access_token)["kid"]
    verifier = verifier_for(app)
    try:
        await verifier.verify(before.access_token)
        rotated = await client.post("/api/v1/signing-keys/rotate", headers=admin_headers)
        assert rotated.status_code == 200
        new_kid = rotated.json()["kid"]
        assert new_kid != old_kid
        published = {k["kid"] for k in (await client.get("/auth/jwks")).json()["keys"]}
        assert published == {old_kid, new_kid}
        # Tokens signed before the rotation still verify until they expire...
        assert (await verifier.verify(before.access_token)).has_role("admin")
        # ...and new tokens are signed with the new key, and verify too.
        after = await sign_in_with_pkce(client, "admin", "admin-test-password-1")
        assert jwt.get_unverified_header(after.access_token)["kid"] == new_kid
        assert (await verifier.verify(after.access_token)).has_role("admin")
        # A second rotation retires the first key: it leaves the JWKS, and a resource server
        # that loads the keys (a fresh one here) refuses what it signed.
        await client.post(
            "/api/v1/signing-keys/rotate",
            headers={"Authorization": f"Bearer {after.access_token}"},
        )
        published = {k["kid"] for k in (await client.get("/auth/jwks")).json()["keys"]}
        assert old_kid not in published
    finally:
        await verifier.aclose()
    fresh = verifier_for(app)
    try:
        with pytest.raises(Unauthorized):
            await fresh.verify(before.access_token)
        assert (await fresh.verify(after.access_token)).has_role("admin")
    finally:
        await fresh.aclose()


async def test_guessing_a_client_secret_locks_that_client_not_others(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    guessed = await _agency_client(client, admin_headers, client_id="guessed-system")
    other = await _agency_client(client, admin_headers, client_id="other-system")
    form = {"grant_type": "client_credentials", "scope": "requests:read"}
    wrong = [
        (await client.post("/auth/token", data=form, auth=("guessed-system", f"guess-{n}")))
        for n in range(3)  # client_auth_max_failures in the test settings
    ]
    # Even the right secret waits now: the guesser cannot tell when it has found it.
    locked = await client.post(
        "/auth/token", data=form, auth=("guessed-system", guessed["client_secret"])
    )
    unaffected = await client.post(
        "/auth/token", data=form, auth=("other-system", other["client_secret"])
    )
    assert [r.status_code for r in wrong] == [401] * 3
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert locked.json()["error"] == "invalid_client"
    assert unaffected.status_code == 200, unaffected.text
