"""The notifications HTTP API: the caller's inbox and notification preferences."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from notifications import service
from notifications.deps import ReaderDep, SessionDep, WriterDep, account_of
from notifications.errors import AccountRequired, NotificationNotFound
from notifications.schemas import NotificationPage, NotificationRead, Preferences
from portal_shared.errors import Forbidden, Unauthorized, problem_responses
from portal_shared.paging import CursorParam, CursorsDep, InvalidCursor

router = APIRouter(prefix="/api/v1", tags=["notifications"])


@router.get(
    "/notifications",
    responses=problem_responses(InvalidCursor, Unauthorized, AccountRequired, Forbidden),
)
async def list_notifications(
    session: SessionDep,
    principal: ReaderDep,
    cursors: CursorsDep,
    cursor: CursorParam = None,
    unread: Annotated[bool, Query(description="Only messages not yet read")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    account_id: Annotated[
        UUID | None,
        Query(description="Admins only: another person's messages, e.g. to see an email's status"),
    ] = None,
) -> NotificationPage:
    """The caller's own messages, newest first (an admin may name another person's)."""
    account = account_of(principal)
    if account_id is not None and account_id != account:
        if not principal.has_role("admin"):
            raise Forbidden(message_key="error.others-messages")
        account = account_id
    return await service.list_notifications(
        session, account, unread=unread, limit=limit, cursor=cursor, cursors=cursors
    )


@router.post(
    "/notifications/{notification_id}/read",
    responses=problem_responses(NotificationNotFound, Unauthorized, AccountRequired),
)
async def mark_read(
    notification_id: UUID, session: SessionDep, principal: WriterDep
) -> NotificationRead:
    """Mark one of the caller's messages read."""
    return await service.mark_read(session, account_of(principal), notification_id)


@router.get(
    "/me/notification-preferences",
    responses=problem_responses(Unauthorized, AccountRequired),
)
async def get_preferences(session: SessionDep, principal: ReaderDep) -> Preferences:
    """The caller's language and email choice (Kazakh and no email until they choose)."""
    return await service.preferences_of(session, account_of(principal))


@router.put(
    "/me/notification-preferences",
    responses=problem_responses(Unauthorized, AccountRequired),
)
async def put_preferences(
    body: Preferences, session: SessionDep, principal: WriterDep
) -> Preferences:
    """Replace the caller's preferences."""
    return await service.set_preferences(session, account_of(principal), body)
