"""Checking a sign-in on the login form, with per-account and per-address throttling.

A locked account, a disabled one, an unknown name and a wrong password all
give the same outcome, and every path verifies one argon2 hash, so neither the
answer nor its timing tells whether an account exists.
"""

from __future__ import annotations

import enum

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from identity import throttle
from identity.models import Account
from identity.passwords import Passwords
from identity.settings import IdentitySettings


class Refused(enum.Enum):
    FAILED = "failed"
    THROTTLED = "throttled"


async def find_by_login(session: AsyncSession, login: str) -> Account | None:
    """Residents sign in with their IIN or email; officers and admins with their username."""
    login = login.strip()
    if len(login) == 12 and login.isascii() and login.isdigit():
        stmt = select(Account).where(col(Account.iin) == login)
    elif "@" in login:
        stmt = select(Account).where(
            col(Account.email) == login.lower(),
            col(Account.roles).contains(["resident"]),
        )
    else:
        stmt = select(Account).where(col(Account.username) == login.lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def sign_in(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    passwords: Passwords,
    login: str,
    password: str,
    address: str,
) -> Account | Refused:
    address_key = f"address:{address}"
    if await throttle.is_locked(session, address_key):
        return Refused.THROTTLED
    account = await find_by_login(session, login) if login and len(login) <= 320 else None
    account_key = f"account:{account.id}" if account else f"login:{login.strip().lower()[:320]}"
    locked = await throttle.is_locked(session, account_key)
    usable = account is not None and account.status == "active" and not locked
    verified = await run_in_threadpool(
        passwords.verify, account.password_hash if usable and account else None, password[:256]
    )
    if usable and verified and account is not None:
        await throttle.clear(session, account_key)
        return account
    if not locked:
        await throttle.record_failure(
            session,
            account_key,
            max_failures=settings.login_max_failures,
            window=settings.login_failure_window,
            lockout=settings.login_lockout,
        )
    await throttle.record_failure(
        session,
        address_key,
        max_failures=settings.login_max_failures_per_address,
        window=settings.login_failure_window,
        lockout=settings.login_lockout,
    )
    return Refused.FAILED
