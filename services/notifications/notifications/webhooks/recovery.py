"""The delivery log and what an endpoint's owner does after an outage or a leak: resend
one delivery, recover everything failed since a moment, rotate the signing secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications.webhooks.access import Subscriber
from notifications.webhooks.delivery import FAILED, PENDING
from notifications.webhooks.errors import DeliveryNotFound
from notifications.webhooks.models import Delivery
from notifications.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    Recovered,
    SecretRotated,
)
from notifications.webhooks.sealing import SecretSeal
from notifications.webhooks.service import find, new_secret
from portal_shared.paging import CursorCodec, NewestFirst

# How long the old secret still signs after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)


def _read(row: Delivery) -> DeliveryRead:
    return DeliveryRead.model_validate(row, from_attributes=True)


async def deliveries(
    session: AsyncSession,
    caller: Subscriber,
    subscription_id: UUID,
    *,
    limit: int,
    cursor: str | None,
    cursors: CursorCodec,
) -> DeliveryPage:
    """The subscription's deliveries, newest first; keyset-paged."""
    await find(session, caller, subscription_id)
    kind = f"deliveries:{subscription_id}:-created_at"
    d = Delivery
    query = sa.select(d).where(col(d.subscription_id) == subscription_id)
    keyset = NewestFirst(cursors, kind, col(d.created_at), col(d.id))
    rows = (await session.execute(keyset.query(query, cursor, limit))).scalars().all()
    items, next_cursor = keyset.page([_read(row) for row in rows], limit)
    return DeliveryPage(items=items, next_cursor=next_cursor)


async def retry(
    session: AsyncSession, caller: Subscriber, subscription_id: UUID, delivery_id: UUID
) -> DeliveryRead:
    """Send one delivery again now, with a fresh retry schedule (a delivered one too)."""
    await find(session, caller, subscription_id)
    row = (
        await session.execute(
            sa.select(Delivery)
            .where(
                col(Delivery.id) == delivery_id, col(Delivery.subscription_id) == subscription_id
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise DeliveryNotFound(
            message_key="error.no-delivery",
            params={"id": delivery_id, "subscription": subscription_id},
        )
    if row.status != PENDING:
        row.status = PENDING
        row.attempts = 0
        row.next_attempt_at = datetime.now(UTC)
    await session.commit()
    return _read(row)


async def recover(
    session: AsyncSession, caller: Subscriber, subscription_id: UUID, since: datetime
) -> Recovered:
    """Send again every delivery of the subscription that failed since `since`."""
    await find(session, caller, subscription_id)
    result = await session.execute(
        sa.update(Delivery)
        .where(
            col(Delivery.subscription_id) == subscription_id,
            col(Delivery.status) == FAILED,
            col(Delivery.created_at) >= since,
        )
        .values(status=PENDING, attempts=0, next_attempt_at=sa.func.now())
    )
    await session.commit()
    return Recovered(recovered=getattr(result, "rowcount", 0) or 0)


async def rotate_secret(
    session: AsyncSession, caller: Subscriber, subscription_id: UUID, *, seal: SecretSeal
) -> SecretRotated:
    """A new secret; the current one keeps signing (alongside) for ROTATION_OVERLAP."""
    row = await find(session, caller, subscription_id, lock=True)
    now = datetime.now(UTC)
    secret = new_secret()
    # The current secret is sealed again: a row from before secrets were sealed is then
    # sealed too.
    row.previous_secret, row.secret = seal.seal(seal.open(row.secret)), seal.seal(secret)
    row.previous_secret_until = now + ROTATION_OVERLAP
    row.version += 1
    row.updated_at = now
    await session.commit()
    return SecretRotated(secret=secret, previous_secret_until=row.previous_secret_until)
