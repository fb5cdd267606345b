"""Removing what has expired: authorization codes, refresh tokens, revocations, lockouts.

Nothing here changes an answer: every lookup already ignores an expired code or token
(their queries ask `expires_at > now()`), a revoked access token stops verifying at its
own expiry, and a failure window that has passed starts again from one. Without this
the tables only grow: every sign-in leaves a code, every refresh a token. Expired rows
are kept `EXPIRED_TOKEN_RETENTION_SECONDS` (a day) first, for whoever investigates an
incident. Each replica runs it; deleting is idempotent, in batches so no statement
holds many row locks for long.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.settings import IdentitySettings
from portal_shared.app import periodic

log = structlog.get_logger(__name__)

# Table -> the condition that makes a row removable. :keep is the retention in seconds,
# :window the failure window of login throttling.
REMOVABLE = {
    "authorization_codes": "expires_at < now() - make_interval(secs => :keep)",
    "refresh_tokens": "expires_at < now() - make_interval(secs => :keep)",
    "revoked_access_tokens": "expires_at < now() - make_interval(secs => :keep)",
    "issued_access_tokens": "expires_at < now() - make_interval(secs => :keep)",
    "login_throttle": (
        "window_started_at < now() - make_interval(secs => :window)"
        " AND (locked_until IS NULL OR locked_until < now())"
    ),
}


async def remove_expired(
    maker: async_sessionmaker[AsyncSession], settings: IdentitySettings, *, batch: int = 5000
) -> dict[str, int]:
    """Delete every removable row, batch by batch; returns how many per table."""
    params = {
        "keep": float(settings.expired_token_retention_seconds),
        "window": float(settings.login_failure_window),
        "batch": batch,
    }
    removed: dict[str, int] = {}
    for table, condition in REMOVABLE.items():
        statement = sa.text(
            f"DELETE FROM {table} WHERE ctid IN "  # noqa: S608 -- names from REMOVABLE only
            f"(SELECT ctid FROM {table} WHERE {condition} LIMIT :batch FOR UPDATE SKIP LOCKED)"
        )
        removed[table] = 0
        while True:
            async with maker() as session, session.begin():
                result = await session.execute(statement, params)
            count = cast("sa.CursorResult[Any]", result).rowcount
            removed[table] += count
            if count < batch:
                break
    return removed


async def _cleanup(app: FastAPI) -> None:
    removed = await remove_expired(app.state.sessionmaker, app.state.settings)
    if any(removed.values()):
        log.info("expired_rows_removed", **removed)


cleanup_worker = periodic(
    "cleanup", _cleanup, lambda app: float(app.state.settings.cleanup_interval_seconds)
)
