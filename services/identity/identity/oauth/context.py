"""The per-request context authlib's hooks use: the session, settings and signing key.

authlib's server is synchronous and runs in a worker thread; its hooks hop back
onto the event loop with `OAuthContext.call`, so the request's async session is
only ever used from the loop, inside the request's one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.from_thread
from sqlalchemy.ext.asyncio import AsyncSession

from identity.keys import ActiveKey
from identity.models import Account, OAuthClient
from identity.oauth.entities import Client, User
from identity.passwords import Passwords
from identity.settings import IdentitySettings

T = TypeVar("T")


@dataclass
class OAuthContext:
    session: AsyncSession
    settings: IdentitySettings
    passwords: Passwords
    key: ActiveKey | None = None
    jwks: Sequence[dict[str, Any]] = ()

    def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run a coroutine function on the event loop from authlib's worker thread."""
        return anyio.from_thread.run(fn, *args)

    def signing_key(self) -> ActiveKey:
        if self.key is None:
            raise RuntimeError("this endpoint was called without a signing key")
        return self.key

    async def load_client(self, client_id: str) -> Client | None:
        if "\x00" in client_id:
            # PostgreSQL text cannot hold NUL, so no client has it, and asking would fail.
            return None
        row = await self.session.get(OAuthClient, client_id)
        if row is None or row.status != "active":
            return None
        return Client.from_row(row, self.passwords)

    async def load_user(self, account_id: uuid.UUID) -> User | None:
        row = await self.session.get(Account, account_id)
        if row is None or row.status != "active":
            return None
        return User.from_row(row)
