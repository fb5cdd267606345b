"""The cleanup of expired codes, tokens, revocations and lockouts (identity.cleanup)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from identity.cleanup import remove_expired
from identity.settings import IdentitySettings
from portal_testing.oidc import ADMIN_PASSWORD, refresh, sign_in_with_pkce


async def _count(app: FastAPI, table: str) -> int:
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608


async def test_expired_rows_go_and_live_sign_ins_stay(
    app: FastAPI, client: httpx.AsyncClient, parties: None, settings: IdentitySettings
) -> None:
    old = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    live = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    # A failed sign-in of long ago, and a lockout that is still running.
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO login_throttle (key, failures, window_started_at, locked_until)"
                " VALUES ('login:long-ago', 1, now() - interval '2 days', NULL),"
                " ('login:locked-now', 3, now() - interval '2 days', now() + interval '1 hour')"
            )
        )
        # The first sign-in's code and refresh token expired two days ago; the retention
        # is one day, so they are removable. The second sign-in's are not.
        await conn.execute(
            text(
                "UPDATE authorization_codes SET expires_at = now() - interval '2 days'"
                " WHERE id = (SELECT id FROM authorization_codes ORDER BY expires_at LIMIT 1)"
            )
        )
        await conn.execute(
            text(
                "UPDATE refresh_tokens SET expires_at = now() - interval '2 days'"
                " WHERE id = (SELECT id FROM refresh_tokens ORDER BY created_at LIMIT 1)"
            )
        )
        await conn.execute(
            text(
                "UPDATE issued_access_tokens SET expires_at = now() - interval '2 days'"
                " WHERE jti = (SELECT jti FROM issued_access_tokens ORDER BY expires_at LIMIT 1)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO revoked_access_tokens (jti, expires_at)"
                " VALUES ('long-gone', now() - interval '2 days'), ('recent', now())"
            )
        )
    tables = ("authorization_codes", "refresh_tokens", "issued_access_tokens")
    before = {t: await _count(app, t) for t in tables}

    removed = await remove_expired(app.state.sessionmaker, settings, batch=1)

    assert removed == {
        "authorization_codes": 1,
        "refresh_tokens": 1,
        "revoked_access_tokens": 1,
        "issued_access_tokens": 1,
        "login_throttle": 1,
    }
    assert await _count(app, "authorization_codes") == before["authorization_codes"] - 1
    assert await _count(app, "refresh_tokens") == before["refresh_tokens"] - 1
    assert await _count(app, "issued_access_tokens") == before["issued_access_tokens"] - 1
    async with app.state.engine.connect() as conn:
        keys = set((await conn.execute(text("SELECT key FROM login_throttle"))).scalars())
        jtis = set((await conn.execute(text("SELECT jti FROM revoked_access_tokens"))).scalars())
    assert keys == {"login:locked-now"}, "a running lockout must stay"
    assert jtis == {"recent"}
    # The live sign-in still refreshes; the expired one was refused before and still is.
    assert (await refresh(client, live.refresh_token or "")).status_code == 200
    assert (await refresh(client, old.refresh_token or "")).status_code == 400
    # Nothing left to remove: a second round is a no-op.
    assert set((await remove_expired(app.state.sessionmaker, settings)).values()) == {0}
