"""Revoked means revoked (issue 15): a revoked access token, the tokens of a replayed code or
of a reused refresh token's family, and a disabled account's tokens are refused by every
resource server within seconds, even by one that had already verified (and cached) them.

"Another service" here is what every service runs through create_service_app: a
`TokenVerifier` fetching identity's JWKS, whose denylist a `RevocationFeed` keeps current
from the real broker. The identity service's own API (`/api/v1/me`) is checked as well.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from portal_shared.auth import TokenVerifier
from portal_shared.errors import Unauthorized
from portal_shared.revocation import RevocationFeed, RevocationList
from portal_testing.oidc import (
    ADMIN_PASSWORD,
    authorization_code,
    exchange,
    pkce_pair,
    refresh,
    sign_in_with_pkce,
    valid_iin,
)

DEADLINE = 5.0  # seconds: the bound on how long a revoked token may still work


@pytest.fixture
async def other_service(app: FastAPI, kafka_bootstrap: str) -> AsyncIterator[TokenVerifier]:
    """A resource server's verifier with its own revocation feed, as create_service_app
    gives every service (and the gateway its own)."""
    revocations = RevocationList()
    verifier = TokenVerifier(
        issuer="http://localhost:8000/auth",
        audience="portal-api",
        jwks_url="http://identity/auth/jwks",
        http=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity"),
        revocations=revocations,
    )
    stop = asyncio.Event()
    feed = asyncio.create_task(RevocationFeed(revocations, kafka_bootstrap).run(stop))
    try:
        await asyncio.wait_for(revocations.caught_up.wait(), 30)
        yield verifier
    finally:
        stop.set()
        await feed
        await verifier.aclose()


async def _refused_within_deadline(check: Callable[[], Awaitable[str | None]]) -> str:
    """Poll `check` (None while the token still works, else why it was refused) until it
    refuses; fail if it still works after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while True:
        why = await check()
        if why is not None:
            return why
        assert time.monotonic() < deadline, f"still accepted {DEADLINE} s after the revocation"
        await asyncio.sleep(0.05)


def _verifier_refuses(verifier: TokenVerifier, token: str) -> Callable[[], Awaitable[str | None]]:
    async def check() -> str | None:
        try:
            await verifier.verify(token)
        except Unauthorized as exc:
            return exc.detail
        return None

    return check


def _api_refuses(client: httpx.AsyncClient, token: str) -> Callable[[], Awaitable[str | None]]:
    async def check() -> str | None:
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 200:
            return None
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        detail: str = response.json()["detail"]
        return detail

    return check


async def _refused_everywhere(
    client: httpx.AsyncClient, verifier: TokenVerifier, token: str
) -> None:
    assert "revoked" in await _refused_within_deadline(_verifier_refuses(verifier, token))
    assert "revoked" in await _refused_within_deadline(_api_refuses(client, token))


async def _works_everywhere(client: httpx.AsyncClient, verifier: TokenVerifier, token: str) -> None:
    # Verified once: from here on the verifier answers from its cache.
    assert (await verifier.verify(token)).token_id is not None
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text


async def test_a_revoked_access_token_is_refused_by_every_resource_server(
    client: httpx.AsyncClient, parties: None, other_service: TokenVerifier
) -> None:
    tokens = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    await _works_everywhere(client, other_service, tokens.access_token)

    revoked = await client.post(
        "/auth/revoke", data={"token": tokens.access_token, "client_id": "portal-web"}
    )
    assert revoked.status_code == 200

    await _refused_everywhere(client, other_service, tokens.access_token)
    # Only that token: a new sign-in works.
    again = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    await _works_everywhere(client, other_service, again.access_token)


async def test_a_replayed_code_revokes_the_access_token_it_issued(
    client: httpx.AsyncClient, parties: None, other_service: TokenVerifier
) -> None:
    verifier, challenge = pkce_pair()
    code = await authorization_code(client, "admin", ADMIN_PASSWORD, challenge)
    first = await exchange(client, code, verifier)
    assert first.status_code == 200
    access = first.json()["access_token"]
    await _works_everywhere(client, other_service, access)

    replay = await exchange(client, code, verifier)  # an attacker who intercepted the code
    assert replay.status_code == 400

    await _refused_everywhere(client, other_service, access)


async def test_a_reused_refresh_token_revokes_the_access_tokens_of_its_family(
    client: httpx.AsyncClient, parties: None, other_service: TokenVerifier
) -> None:
    tokens = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    rotated = await refresh(client, tokens.refresh_token or "")
    assert rotated.status_code == 200
    latest = rotated.json()["access_token"]
    for access in (tokens.access_token, latest):
        await _works_everywhere(client, other_service, access)

    assert (await refresh(client, tokens.refresh_token or "")).status_code == 400

    for access in (tokens.access_token, latest):
        await _refused_everywhere(client, other_service, access)


async def _resident(client: httpx.AsyncClient) -> dict[str, Any]:
    body = {
        "iin": valid_iin(7),
        "given_name": "Dana",
        "family_name": "Resident",
        "email": "dana@example.kz",
        "phone": "+77010000007",
        "password": "resident-pass-123",
    }
    created = await client.post("/api/v1/residents", json=body)
    assert created.status_code == 201, created.text
    account: dict[str, Any] = created.json()
    return account


async def test_a_disabled_account_is_refused_and_once_enabled_only_new_tokens_work(
    client: httpx.AsyncClient, admin_headers: dict[str, str], other_service: TokenVerifier
) -> None:
    account = await _resident(client)
    before = await sign_in_with_pkce(client, account["iin"], "resident-pass-123")
    await _works_everywhere(client, other_service, before.access_token)

    disabled = await client.patch(
        f"/api/v1/users/{account['id']}", json={"status": "disabled"}, headers=admin_headers
    )
    assert disabled.status_code == 200, disabled.text
    await _refused_everywhere(client, other_service, before.access_token)

    enabled = await client.patch(
        f"/api/v1/users/{account['id']}", json={"status": "active"}, headers=admin_headers
    )
    assert enabled.status_code == 200
    after = await sign_in_with_pkce(client, account["iin"], "resident-pass-123")
    # The enabling reaches each verifier through its feed; from then on the new token works,
    # while the one issued before the disabling stays refused.
    for accepts in (
        _verifier_refuses(other_service, after.access_token),
        _api_refuses(client, after.access_token),
    ):
        deadline = time.monotonic() + DEADLINE
        while await accepts() is not None:
            assert time.monotonic() < deadline, "the re-enabled account's new token is refused"
            await asyncio.sleep(0.05)
    assert await _verifier_refuses(other_service, before.access_token)() is not None
    assert await _api_refuses(client, before.access_token)() is not None


async def test_the_revocation_events_are_documented(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://identity"
    ) as client:
        document = (await client.get("/asyncapi.json")).json()
    assert document["channels"]["identity_token"]["address"] == "identity.token"
    assert set(document["channels"]["identity_token"]["messages"]) == {"identity_token_revoked_v1"}
    assert "identity_user_disabled_v1" in document["channels"]["identity_user"]["messages"]
    payload = document["components"]["schemas"]["TokensRevokedData"]
    assert {"sub", "client_id", "reason", "tokens"} <= set(payload["properties"])
