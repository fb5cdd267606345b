"""Annotated dependencies of the notifications API: the session and the calling person."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends

from notifications.errors import AccountRequired
from portal_shared.auth import PrincipalDep
from portal_shared.db import SessionDep

__all__ = ["AccountDep", "SessionDep"]


async def _account(principal: PrincipalDep) -> UUID:
    """The caller's account id: an inbox belongs to a person, never to a machine client."""
    account = principal.account_id
    if account is None:
        raise AccountRequired("Only a person's access token has an inbox")
    return account


AccountDep = Annotated[UUID, Depends(_account)]
