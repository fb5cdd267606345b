"""Annotated dependencies of the notifications API: the session and the calling person."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends

from notifications.errors import AccountRequired
from portal_shared.auth import Principal
from portal_shared.db import SessionDep
from portal_shared.scopes import NOTIFICATIONS_READ, NOTIFICATIONS_WRITE, require_scope

__all__ = ["ReaderDep", "SessionDep", "WriterDep", "account_of"]

# A person reading their inbox and preferences, or changing them (the token's scopes say
# whether this client may do either).
ReaderDep = Annotated[Principal, Depends(require_scope(NOTIFICATIONS_READ))]
WriterDep = Annotated[Principal, Depends(require_scope(NOTIFICATIONS_WRITE))]


def account_of(principal: Principal) -> UUID:
    """The caller's account id: an inbox belongs to a person, never to a machine client."""
    account = principal.account_id
    if account is None:
        raise AccountRequired(message_key="error.inbox-needs-person")
    return account
