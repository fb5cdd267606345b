"""Failed sign-in counting in PostgreSQL, so every replica sees the same counts.

Keys are `account:<id>` for a known account, `login:<name>` for an unknown
one (so an unknown name locks exactly like a real account, and the answers
reveal nothing) and `address:<ip>` for the client's address.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

_FAIL = sa.text(
    """
    INSERT INTO login_throttle AS t (key, failures, window_started_at, locked_until)
    VALUES (:key, 1, now(), CASE WHEN 1 >= :max THEN now() + make_interval(secs => :lockout) END)
    ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN t.window_started_at < now() - make_interval(secs => :window)
                        THEN 1 ELSE t.failures + 1 END,
        window_started_at = CASE WHEN t.window_started_at < now() - make_interval(secs => :window)
                                 THEN now() ELSE t.window_started_at END,
        locked_until = CASE
            WHEN (CASE WHEN t.window_started_at < now() - make_interval(secs => :window)
                       THEN 1 ELSE t.failures + 1 END) >= :max
            THEN now() + make_interval(secs => :lockout)
            ELSE t.locked_until END
    """
)


async def is_locked(session: AsyncSession, key: str) -> bool:
    locked = await session.scalar(
        sa.text("SELECT locked_until > now() FROM login_throttle WHERE key = :key"), {"key": key}
    )
    return bool(locked)


async def record_failure(
    session: AsyncSession, key: str, *, max_failures: int, window: int, lockout: int
) -> None:
    await session.execute(
        _FAIL, {"key": key, "max": max_failures, "window": float(window), "lockout": float(lockout)}
    )


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(sa.text("DELETE FROM login_throttle WHERE key = :key"), {"key": key})
