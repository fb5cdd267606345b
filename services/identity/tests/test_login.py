"""Acceptance 4: failed sign-ins are throttled per account and per address, an account locks
after repeated failures, and a locked account answers exactly like an unknown one."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from portal_testing.oidc import (
    ADMIN_PASSWORD,
    authorize_params,
    form_fields,
    pkce_pair,
    redirect_query,
    submit_login,
)

_, CHALLENGE = pkce_pair()


async def _attempt(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    # The same authorization request each time, so two answers can be compared byte for byte.
    params = authorize_params(CHALLENGE, state="s", nonce="n")
    return await submit_login(client, params, username, password)


async def test_account_locks_after_repeated_failures_and_then_looks_unknown(
    client: httpx.AsyncClient, parties: None
) -> None:
    for _ in range(3):  # login_max_failures in the test settings
        failed = await _attempt(client, "admin", "wrong-password-123")
        assert failed.status_code == 401
        assert 'name="password"' in failed.text
    # The right password no longer opens a locked account...
    locked = await _attempt(client, "admin", ADMIN_PASSWORD)
    unknown = await _attempt(client, "no-such-user", "wrong-password-123")
    # ...and the answer is the same as for an account that does not exist.
    assert locked.status_code == unknown.status_code == 401
    assert locked.text == unknown.text
    assert "no-such-user" not in unknown.text


async def test_lock_ends_after_the_lockout(
    app: FastAPI, client: httpx.AsyncClient, parties: None
) -> None:
    for _ in range(3):
        await _attempt(client, "admin", "wrong-password-123")
    assert (await _attempt(client, "admin", ADMIN_PASSWORD)).status_code == 401
    # Time passes (moved in the database rather than waited for).
    async with app.state.engine.begin() as conn:
        await conn.execute(
            sa.text(
                "UPDATE login_throttle SET locked_until = now() - interval '1 second',"
                " window_started_at = now() - interval '1 hour'"
            )
        )
    assert (await _attempt(client, "admin", ADMIN_PASSWORD)).status_code == 302


async def test_success_resets_the_failure_count(client: httpx.AsyncClient, parties: None) -> None:
    for _ in range(2):
        await _attempt(client, "admin", "wrong-password-123")
    assert (await _attempt(client, "admin", ADMIN_PASSWORD)).status_code == 302
    for _ in range(2):
        await _attempt(client, "admin", "wrong-password-123")
    assert (await _attempt(client, "admin", ADMIN_PASSWORD)).status_code == 302


async def test_an_address_with_too_many_failures_is_throttled(
    app: FastAPI, client: httpx.AsyncClient, parties: None
) -> None:
    await _attempt(client, "someone", "wrong-password-123")
    async with app.state.engine.begin() as conn:
        keys = list(await conn.scalars(sa.text("SELECT key FROM login_throttle ORDER BY key")))
        assert any(k.startswith("address:") for k in keys), "failures are counted per address too"
        await conn.execute(
            sa.text(
                "UPDATE login_throttle SET locked_until = now() + interval '5 minutes'"
                " WHERE key LIKE 'address:%'"
            )
        )
    throttled = await _attempt(client, "admin", ADMIN_PASSWORD)
    assert throttled.status_code == 429


async def test_login_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, parties: None
) -> None:
    _, challenge = pkce_pair()
    page = await client.get("/auth/authorize", params=authorize_params(challenge))
    fields = form_fields(page.text) | {"username": "admin", "password": ADMIN_PASSWORD}
    forged = fields | {"csrf_token": "0" * 64}
    response = await client.post("/auth/authorize", data=forged)
    assert response.status_code == 400
    assert "location" not in response.headers
    # Another browser (no cookie) posting a token lifted from this page fails too.
    async with httpx.AsyncClient(
        transport=client._transport, base_url=str(client.base_url)
    ) as other:
        assert (await other.post("/auth/authorize", data=fields)).status_code == 400
    assert redirect_query(await client.post("/auth/authorize", data=fields))["code"]
