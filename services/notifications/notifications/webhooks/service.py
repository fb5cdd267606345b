"""The subscriptions' use cases: create, read, list, change, delete.

Every lookup is scoped to the caller: an agency system finds only what it made (anything
else is 404, so it cannot learn other subscriptions exist); an admin finds every one.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications.webhooks.access import Subscriber
from notifications.webhooks.delivery import validation
from notifications.webhooks.errors import InvalidSubscription, SubscriptionNotFound
from notifications.webhooks.models import Subscription
from notifications.webhooks.schemas import (
    KNOWN_TYPES,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionPatch,
    SubscriptionRead,
    SubscriptionStatus,
)
from notifications.webhooks.sealing import SecretSeal
from notifications.webhooks.ssrf import UnsafeUrl, check_url
from portal_shared.i18n import Message
from portal_shared.paging import CursorCodec, NewestFirst
from portal_shared.preconditions import check_if_match

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes it: `whsec_` + base64 of 32 bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _now() -> datetime:
    return datetime.now(UTC)


def _checked_types(types: list[str]) -> list[str]:
    """The patterns, each matching at least one known event type; duplicates dropped."""
    unknown = [t for t in types if not any(fnmatchcase(k, t) for k in KNOWN_TYPES)]
    if unknown:
        raise InvalidSubscription(
            message_key="error.unknown-event-types",
            params={"types": ", ".join(unknown), "known": ", ".join(KNOWN_TYPES)},
            errors=[
                {"field": "types", "message": Message("validation.no-event-type", {"type": t})}
                for t in unknown
            ],
        )
    return list(dict.fromkeys(types))


def _checked_url(url: str, *, allow_http_loopback: bool) -> str:
    try:
        check_url(url, allow_http_loopback=allow_http_loopback)
    except UnsafeUrl as exc:
        raise InvalidSubscription(
            message_key="error.webhook-url-refused",
            params={"reason": exc.reason},
            errors=[{"field": "url", "message": exc.reason}],
        ) from exc
    return url


def read(row: Subscription) -> SubscriptionRead:
    return SubscriptionRead.model_validate(row, from_attributes=True)


async def create(
    session: AsyncSession,
    caller: Subscriber,
    body: SubscriptionCreate,
    *,
    allow_http_loopback: bool,
    seal: SecretSeal,
) -> SubscriptionCreated:
    """A pending subscription and its secret (the only time it is shown besides rotation)."""
    if caller.admin:
        agency_id = body.agency_id
    elif body.agency_id not in (None, caller.agency_id):
        raise InvalidSubscription(
            message_key="error.own-agency-only",
            errors=[{"field": "agency_id", "message": Message("validation.not-own-agency")}],
        )
    else:
        agency_id = caller.agency_id
    now = _now()
    # Shown to the caller once, here; stored only sealed.
    secret = new_secret()
    row = Subscription(
        id=uuid4(),
        owner_client_id=caller.owner,
        owner_account_id=caller.account_id,
        agency_id=agency_id,
        url=_checked_url(body.url, allow_http_loopback=allow_http_loopback),
        types=_checked_types(body.types),
        description=body.description,
        status=SubscriptionStatus.pending,
        secret=seal.seal(secret),
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    session.add(validation(row))
    await session.commit()
    return SubscriptionCreated(**read(row).model_dump(), secret=secret)


async def find(
    session: AsyncSession, caller: Subscriber, subscription_id: UUID, *, lock: bool = False
) -> Subscription:
    """The caller's subscription, or 404 (also for another system's)."""
    query = sa.select(Subscription).where(col(Subscription.id) == subscription_id)
    if not caller.admin:
        query = query.where(col(Subscription.owner_client_id) == caller.owner)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise SubscriptionNotFound(
            message_key="error.no-subscription", params={"id": subscription_id}
        )
    return row


async def list_subscriptions(
    session: AsyncSession,
    caller: Subscriber,
    *,
    limit: int,
    cursor: str | None,
    cursors: CursorCodec,
) -> SubscriptionPage:
    """The caller's subscriptions (an admin's: all), newest first; keyset-paged."""
    kind = "subscriptions:-created_at" + ("" if caller.admin else f":{caller.owner}")
    s = Subscription
    query = sa.select(s)
    if not caller.admin:
        query = query.where(col(s.owner_client_id) == caller.owner)
    keyset = NewestFirst(cursors, kind, col(s.created_at), col(s.id))
    rows = (await session.execute(keyset.query(query, cursor, limit))).scalars().all()
    items, next_cursor = keyset.page([read(row) for row in rows], limit)
    return SubscriptionPage(items=items, next_cursor=next_cursor)


async def change(
    session: AsyncSession,
    caller: Subscriber,
    subscription_id: UUID,
    body: SubscriptionPatch,
    if_match: str | None,
) -> SubscriptionRead:
    """Pause, resume, or change the types or description of a subscription."""
    row = await find(session, caller, subscription_id, lock=True)
    check_if_match(if_match, row.version, required=True)
    if body.types is not None:
        row.types = _checked_types(body.types)
    if "description" in body.model_fields_set:
        row.description = body.description
    if body.status == "paused":
        row.status = SubscriptionStatus.paused
    elif body.status == "active" and row.status != SubscriptionStatus.active:
        # Resuming (or re-enabling) asks the endpoint to prove itself again first.
        row.status = SubscriptionStatus.pending
        # A fresh start: past failures do not count toward disabling it again.
        row.failing_since = None
        row.disabled_reason = None
        session.add(validation(row))
    row.version += 1
    row.updated_at = _now()
    await session.commit()
    return read(row)


async def delete(
    session: AsyncSession, caller: Subscriber, subscription_id: UUID, if_match: str | None
) -> None:
    row = await find(session, caller, subscription_id, lock=True)
    check_if_match(if_match, row.version, required=False)
    await session.delete(row)
    await session.commit()
