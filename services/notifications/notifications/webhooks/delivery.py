"""Deliveries: recorded per matching subscription when an event arrives, then sent.

The worker takes due deliveries whose earlier siblings (same subscription, same request)
are all done, leases them, sends them concurrently through the SSRF guard, and records
each outcome: 2xx delivered (a validation activates its subscription); 410 disables the
subscription at once; anything else, 3xx included, is tried again on the retry schedule
(jittered, or after Retry-After on 429/503) until the schedule runs out.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from fnmatch import fnmatchcase
from typing import Any
from uuid import UUID, uuid4

import httpx
import orjson
import sqlalchemy as sa
import structlog
from fastapi import FastAPI
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from notifications.settings import NotificationsSettings
from notifications.webhooks import signing
from notifications.webhooks.models import Delivery, Subscription
from notifications.webhooks.schemas import KNOWN_TYPES, VALIDATION_TYPE, SubscriptionStatus
from notifications.webhooks.ssrf import UnsafeUrl, guarded_client, post, resolve
from portal_shared.app import ConsumerSpec
from portal_shared.events import CloudEvent

log = structlog.get_logger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
REQUEST_TOPIC = "requests.request"


def _now() -> datetime:
    return datetime.now(UTC)


def validation(subscription: Subscription) -> Delivery:
    """The validation event a (re)starting subscription receives first."""
    now = _now()
    return Delivery(
        id=uuid4(),
        subscription_id=subscription.id,
        event_id=str(uuid4()),
        event_type=VALIDATION_TYPE,
        source="/notifications",
        subject=str(subscription.id),
        event_time=now,
        data={"subscription_id": str(subscription.id), "types": subscription.types},
        status=PENDING,
        next_attempt_at=now,
        created_at=now,
    )


async def record(session: AsyncSession, event: CloudEvent) -> None:
    """A delivery of a request event for every active subscription that wants it."""
    agency = event.data.get("agency_id")
    s = Subscription
    query = sa.select(col(s.id), col(s.types)).where(col(s.status) == SubscriptionStatus.active)
    if agency:
        query = query.where(sa.or_(col(s.agency_id).is_(None), col(s.agency_id) == agency))
    else:
        # An event of no agency goes only to the admins' all-agency subscriptions.
        query = query.where(col(s.agency_id).is_(None))
    wanted = [
        sid
        for sid, types in (await session.execute(query)).all()
        if any(fnmatchcase(event.type, pattern) for pattern in types)
    ]
    if not wanted:
        return
    now = _now()
    request_id = event.data.get("id")
    rows: list[dict[str, Any]] = [
        {
            "id": uuid4(),
            "subscription_id": sid,
            "event_id": event.id,
            "event_type": event.type,
            "source": event.source,
            "subject": event.subject,
            "event_time": event.time,
            "request_id": UUID(str(request_id)) if request_id else None,
            "data": event.data,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for sid in wanted
    ]
    await session.execute(
        insert(Delivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
    )


async def _on_request_event(session: AsyncSession, event: CloudEvent) -> None:
    await record(session, event)


def consumer() -> ConsumerSpec:
    """The webhooks' own group on `requests.request`, apart from the inbox's consumer."""
    return ConsumerSpec(
        group_id=f"notifications.webhooks.{REQUEST_TOPIC}",
        topics=[REQUEST_TOPIC],
        handlers=dict.fromkeys(KNOWN_TYPES, _on_request_event),
    )


def _due(batch: int) -> sa.Select[Delivery]:
    """Due deliveries of subscriptions that may receive them, each with no earlier
    delivery of the same request still pending (the order per request)."""
    d, s = Delivery, Subscription
    earlier = aliased(Delivery)
    blocked = (
        sa.select(sa.literal(1))
        .where(
            col(earlier.subscription_id) == col(d.subscription_id),
            col(earlier.request_id) == col(d.request_id),
            col(earlier.status) == PENDING,
            sa.tuple_(col(earlier.created_at), col(earlier.id))
            < sa.tuple_(col(d.created_at), col(d.id)),
        )
        .exists()
    )
    return (
        sa.select(d)
        .join(s, col(s.id) == col(d.subscription_id))
        .where(
            col(d.status) == PENDING,
            col(d.next_attempt_at) <= sa.func.now(),
            sa.or_(
                col(s.status) == SubscriptionStatus.active,
                sa.and_(
                    col(s.status) == SubscriptionStatus.pending,
                    col(d.event_type) == VALIDATION_TYPE,
                ),
            ),
            ~blocked,
        )
        .order_by(col(d.next_attempt_at), col(d.created_at))
        .limit(batch)
        .with_for_update(of=d, skip_locked=True)
    )


def _retry_after(response_headers: httpx.Headers, now: datetime) -> float | None:
    value = response_headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


def _next_wait(settings: NotificationsSettings, attempts: int, retry_after: float | None) -> float:
    schedule = settings.webhooks_retry_seconds
    wait = schedule[attempts - 1] * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not secrecy)
    if retry_after is not None:
        # Honoured, but never beyond the schedule's longest wait.
        wait = min(max(wait, retry_after), max(schedule))
    return wait


async def _send(
    client: httpx.AsyncClient,
    settings: NotificationsSettings,
    delivery: Delivery,
    subscription: Subscription,
) -> tuple[int | None, str | None, float | None, httpx.Headers | None]:
    """One attempt: (status code, error, seconds, response headers)."""
    body = orjson.dumps(delivery.data)
    now = _now()
    secrets = [subscription.secret]
    if subscription.previous_secret and (subscription.previous_secret_until or now) > now:
        secrets.append(subscription.previous_secret)
    try:
        target = await resolve(
            subscription.url, allow_http_loopback=settings.webhooks_allow_http_loopback
        )
        answer = await post(client, target, signing.headers(delivery, body, secrets, now), body)
    except UnsafeUrl as exc:
        return None, f"refused: {exc}", None, None
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}", None, None
    return answer.status, None, answer.seconds, answer.headers


def _disable(subscription: Subscription | None, reason: str, now: datetime) -> None:
    if subscription is None or subscription.status == SubscriptionStatus.disabled:
        return
    subscription.status = SubscriptionStatus.disabled
    subscription.disabled_reason = reason
    subscription.version += 1
    subscription.updated_at = now
    # The owner is told through the service's log and the subscription's reason.
    log.warning(
        "webhook_subscription_disabled", subscription_id=str(subscription.id), reason=reason
    )


def _failing(
    settings: NotificationsSettings, subscription: Subscription | None, now: datetime
) -> None:
    """Count a failure toward disabling an endpoint that fails everything for days."""
    if subscription is None:
        return
    if subscription.failing_since is None:
        subscription.failing_since = now
    elif (now - subscription.failing_since).total_seconds() >= (
        settings.webhooks_disable_after_seconds
    ):
        since = subscription.failing_since.isoformat()
        _disable(subscription, f"Every delivery has failed since {since}", now)


async def _settle(
    session: AsyncSession,
    settings: NotificationsSettings,
    delivery_id: UUID,
    outcome: tuple[int | None, str | None, float | None, httpx.Headers | None],
) -> None:
    code, error, seconds, response_headers = outcome
    delivery = await session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != PENDING:
        return  # deleted with its subscription meanwhile
    # FOR NO KEY UPDATE: the consumer's inserts (their foreign key takes KEY SHARE on this
    # row) must not wait behind every settled attempt.
    subscription = await session.get(
        Subscription, delivery.subscription_id, with_for_update={"key_share": True}
    )
    now = _now()
    delivery.attempts += 1
    delivery.last_status_code = code
    delivery.last_error = error
    delivery.latency_ms = round(seconds * 1000) if seconds is not None else None
    if code is not None and 200 <= code < 300:
        delivery.status = DELIVERED
        delivery.delivered_at = now
        if subscription is not None:
            subscription.failing_since = None
        if (
            delivery.event_type == VALIDATION_TYPE
            and subscription is not None
            and subscription.status == SubscriptionStatus.pending
        ):
            subscription.status = SubscriptionStatus.active
            subscription.version += 1
            subscription.updated_at = now
    elif code == 410:
        delivery.status = FAILED
        _disable(subscription, "The endpoint answered 410 Gone", now)
    else:
        _failing(settings, subscription, now)
        if delivery.attempts > len(settings.webhooks_retry_seconds):
            delivery.status = FAILED
            await session.commit()
            return
        retry_after = (
            _retry_after(response_headers, now)
            if code in (429, 503) and response_headers is not None
            else None
        )
        wait = _next_wait(settings, delivery.attempts, retry_after)
        delivery.next_attempt_at = now + timedelta(seconds=wait)
    await session.commit()


async def send_due(app: FastAPI) -> None:
    """One round of the delivery worker."""
    settings: NotificationsSettings = app.state.settings
    async with app.state.sessionmaker() as session:
        due = list((await session.execute(_due(settings.webhooks_batch))).scalars().all())
        if not due:
            return
        lease = _now() + timedelta(seconds=settings.webhooks_lease_seconds)
        for delivery in due:
            delivery.next_attempt_at = lease
        ids = {delivery.subscription_id for delivery in due}
        subscriptions = {
            row.id: row
            for row in (
                await session.execute(sa.select(Subscription).where(col(Subscription.id).in_(ids)))
            ).scalars()
        }
        await session.flush()
        session.expunge_all()
        await session.commit()

    async def one(delivery: Delivery) -> None:
        outcome = await _send(client, settings, delivery, subscriptions[delivery.subscription_id])
        async with app.state.sessionmaker() as session:
            await _settle(session, settings, delivery.id, outcome)

    async with guarded_client(
        connect_timeout=settings.webhooks_connect_timeout,
        read_timeout=settings.webhooks_read_timeout,
    ) as client:
        await asyncio.gather(*(one(delivery) for delivery in due))
