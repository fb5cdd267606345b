"""The subscriptions HTTP API (the contract's Webhooks section)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from notifications.deps import SessionDep
from notifications.settings import NotificationsSettings
from notifications.webhooks import recovery, service
from notifications.webhooks.access import Subscriber, subscriber
from notifications.webhooks.errors import (
    DeliveryNotFound,
    InvalidSubscription,
    SubscribeForbidden,
    SubscriptionNotFound,
)
from notifications.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    Recover,
    Recovered,
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionPatch,
    SubscriptionRead,
)
from notifications.webhooks.sealing import secret_seal
from portal_shared.auth import Principal
from portal_shared.errors import (
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
    problem_responses,
)
from portal_shared.paging import CursorParam, CursorsDep, InvalidCursor
from portal_shared.preconditions import InvalidPrecondition, etag
from portal_shared.scopes import EVENTS_SUBSCRIBE, require_scope

router = APIRouter(prefix="/api/v1/subscriptions", tags=["webhooks"])


async def _subscriber(
    principal: Annotated[Principal, Depends(require_scope(EVENTS_SUBSCRIBE))],
) -> Subscriber:
    return subscriber(principal)


def _settings(request: Request) -> NotificationsSettings:
    settings: NotificationsSettings = request.app.state.settings
    return settings


SubscriberDep = Annotated[Subscriber, Depends(_subscriber)]
SettingsDep = Annotated[NotificationsSettings, Depends(_settings)]
IfMatch = Annotated[str | None, Header(description='The ETag of your last read, e.g. "3"')]
ACCESS = (Unauthorized, SubscribeForbidden)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*ACCESS, InvalidSubscription),
)
async def create_subscription(
    body: SubscriptionCreate,
    session: SessionDep,
    caller: SubscriberDep,
    settings: SettingsDep,
    response: Response,
) -> SubscriptionCreated:
    """Subscribe an endpoint; it is `pending` until it answers the validation event."""
    created = await service.create(
        session,
        caller,
        body,
        allow_http_loopback=settings.webhooks_allow_http_loopback,
        seal=secret_seal(settings),
    )
    response.headers["Location"] = f"{router.prefix}/{created.id}"
    response.headers["ETag"] = etag(created.version)
    return created


@router.get("", responses=problem_responses(*ACCESS, InvalidCursor))
async def list_subscriptions(
    session: SessionDep,
    caller: SubscriberDep,
    cursors: CursorsDep,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SubscriptionPage:
    """The caller's subscriptions (an administrator's: every one), newest first."""
    return await service.list_subscriptions(
        session, caller, limit=limit, cursor=cursor, cursors=cursors
    )


@router.get("/{subscription_id}", responses=problem_responses(*ACCESS, SubscriptionNotFound))
async def get_subscription(
    subscription_id: UUID, session: SessionDep, caller: SubscriberDep, response: Response
) -> SubscriptionRead:
    """One of the caller's subscriptions (never its secret)."""
    found = service.read(await service.find(session, caller, subscription_id))
    response.headers["ETag"] = etag(found.version)
    return found


@router.patch(
    "/{subscription_id}",
    responses=problem_responses(
        *ACCESS,
        SubscriptionNotFound,
        InvalidSubscription,
        InvalidPrecondition,
        PreconditionFailed,
        PreconditionRequired,
    ),
)
async def patch_subscription(
    subscription_id: UUID,
    body: SubscriptionPatch,
    session: SessionDep,
    caller: SubscriberDep,
    response: Response,
    if_match: IfMatch = None,
) -> SubscriptionRead:
    """Pause or resume (a resumed subscription is validated again), or change its types."""
    changed = await service.change(session, caller, subscription_id, body, if_match)
    response.headers["ETag"] = etag(changed.version)
    return changed


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(
        *ACCESS, SubscriptionNotFound, InvalidPrecondition, PreconditionFailed
    ),
)
async def delete_subscription(
    subscription_id: UUID, session: SessionDep, caller: SubscriberDep, if_match: IfMatch = None
) -> None:
    """Unsubscribe: nothing more is delivered."""
    await service.delete(session, caller, subscription_id, if_match)


@router.get(
    "/{subscription_id}/deliveries",
    responses=problem_responses(*ACCESS, SubscriptionNotFound, InvalidCursor),
)
async def list_deliveries(
    subscription_id: UUID,
    session: SessionDep,
    caller: SubscriberDep,
    cursors: CursorsDep,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    """The delivery log: each event's status, attempts, last answer and latency."""
    return await recovery.deliveries(
        session, caller, subscription_id, limit=limit, cursor=cursor, cursors=cursors
    )


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(*ACCESS, SubscriptionNotFound, DeliveryNotFound),
)
async def retry_delivery(
    subscription_id: UUID, delivery_id: UUID, session: SessionDep, caller: SubscriberDep
) -> DeliveryRead:
    """Send one delivery again, now."""
    return await recovery.retry(session, caller, subscription_id, delivery_id)


@router.post(
    "/{subscription_id}/recover",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(*ACCESS, SubscriptionNotFound),
)
async def recover(
    subscription_id: UUID, body: Recover, session: SessionDep, caller: SubscriberDep
) -> Recovered:
    """Send again everything that failed since `since` (in order per request)."""
    return await recovery.recover(session, caller, subscription_id, body.since)


@router.post(
    "/{subscription_id}/rotate-secret",
    responses=problem_responses(*ACCESS, SubscriptionNotFound),
)
async def rotate_secret(
    subscription_id: UUID, session: SessionDep, caller: SubscriberDep, settings: SettingsDep
) -> SecretRotated:
    """A new signing secret; for 24 hours every delivery carries both signatures."""
    return await recovery.rotate_secret(
        session, caller, subscription_id, seal=secret_seal(settings)
    )
