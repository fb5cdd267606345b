"""Deliveries: recorded per matching subscription when an event arrives, then sent.

The consumer records a fetched batch of events in one transaction (one look at the
subscriptions, one multi-row insert) and wakes the worker. The worker takes due deliveries
whose earlier siblings (same subscription, same request) are all done, leases them, sends
them concurrently through the SSRF guard, and records the round's outcomes in one
transaction: 2xx delivered (a validation activates its subscription); 410 disables the
subscription at once; anything else, 3xx included, is tried again on the retry schedule
(jittered, or after Retry-After on 429/503) until the schedule runs out. A subscription
the portal disables has its owners told (`service.notify_subscription_disabled`). A round
records what is in after `webhooks_settle_seconds`; attempts still waiting on a slow
endpoint are recorded as they end (`Stragglers`), so one slow receiver holds up no other.

Batches, measured on the outage of acceptance 2 (2,000 events of 200 requests to one
receiver, answered 503 and then 204): with a transaction per event recorded and one per
delivery settled (each of which locks the subscription's row, so they queued behind one
another), recording took 39 s and the whole 59 s on a loaded 2-core machine; with a
transaction per fetched batch and one per round it is ~1 s and ~4-8 s. The rest went to
httpcore's pool (see `ssrf.Clients`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
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

from notifications import service
from notifications.consumers import mail_domain
from notifications.mailer import first_of
from notifications.settings import NotificationsSettings
from notifications.webhooks import signing
from notifications.webhooks.models import Delivery, Subscription
from notifications.webhooks.schemas import KNOWN_TYPES, VALIDATION_TYPE, SubscriptionStatus
from notifications.webhooks.sealing import SecretUnreadable, secret_seal
from notifications.webhooks.ssrf import Clients, UnsafeUrl, post, resolve
from portal_shared.app import ConsumerSpec, Worker
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


async def record(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
    """A delivery of each request event for every active subscription that wants it.

    `events` are one partition's, in order: a request's events keep their order in
    `created_at`, which is what the worker orders a request's deliveries by; within the
    batch each event is a microsecond after the one before, so no two tie."""
    s = Subscription
    subscriptions = (
        await session.execute(
            sa.select(col(s.id), col(s.types), col(s.agency_id)).where(
                col(s.status) == SubscriptionStatus.active
            )
        )
    ).all()
    if not subscriptions:
        return
    # Which subscriptions (and their agency) want each type: a batch has few types.
    by_type: dict[str, list[tuple[UUID, UUID | None]]] = {}
    now = _now()
    rows: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        if event.type not in by_type:
            by_type[event.type] = [
                (sid, only)
                for sid, types, only in subscriptions
                if any(fnmatchcase(event.type, pattern) for pattern in types)
            ]
        agency = _agency(event)
        # An event of no agency goes only to the admins' all-agency subscriptions.
        wanted = [sid for sid, only in by_type[event.type] if only is None or only == agency]
        request_id = event.data.get("id")
        created_at = now + timedelta(microseconds=index)
        rows += [
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
                "created_at": created_at,
            }
            for sid in wanted
        ]
    if rows:
        # A list of parameters: SQLAlchemy sends them as a few multi-row INSERTs.
        await session.execute(
            insert(Delivery).on_conflict_do_nothing(index_elements=["subscription_id", "event_id"]),
            rows,
        )


def _agency(event: CloudEvent) -> UUID | None:
    value = event.data.get("agency_id")
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


async def _on_request_event(session: AsyncSession, event: CloudEvent) -> None:
    await record(session, [event])


def consumer(on_applied: Callable[[], None] | None = None) -> ConsumerSpec:
    """The webhooks' own group on `requests.request`, apart from the inbox's consumer;
    `on_applied` is called once recorded deliveries are committed (it wakes the worker)."""
    return ConsumerSpec(
        group_id=f"notifications.webhooks.{REQUEST_TOPIC}",
        topics=[REQUEST_TOPIC],
        handlers=dict.fromkeys(KNOWN_TYPES, _on_request_event),
        batch_handler=record,
        on_applied=on_applied,
    )


def _due(batch: int) -> sa.Select[UUID]:
    """The ids of due deliveries of subscriptions that may receive them, each with no
    earlier delivery of the same request still pending (the order per request)."""
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
        sa.select(col(d.id))
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
    clients: Clients,
    settings: NotificationsSettings,
    delivery: Delivery,
    subscription: Subscription,
) -> tuple[int | None, str | None, float | None, httpx.Headers | None]:
    """One attempt: (status code, error, seconds, response headers)."""
    body = orjson.dumps(delivery.data)
    now = _now()
    seal = secret_seal(settings)
    try:
        secrets = [seal.open(subscription.secret)]
        if subscription.previous_secret and (subscription.previous_secret_until or now) > now:
            secrets.append(seal.open(subscription.previous_secret))
    except SecretUnreadable as exc:
        # Nothing is sent unsigned; the attempt fails and is retried on the schedule, so
        # putting the missing key back in WEBHOOK_SECRET_KEYS loses no delivery.
        log.error("webhook_secret_unreadable", subscription_id=str(subscription.id))
        return None, str(exc), None, None
    try:
        target = await resolve(
            subscription.url, allow_http_loopback=settings.webhooks_allow_http_loopback
        )
        headers = signing.headers(delivery, body, secrets, now)
        async with clients.slot(target.host) as client:
            answer = await post(client, target, headers, body)
    except UnsafeUrl as exc:
        return None, f"refused: {exc}", None, None
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}", None, None
    return answer.status, None, answer.seconds, answer.headers


Outcome = tuple[int | None, str | None, float | None, httpx.Headers | None]

GONE, FAILING = "gone", "failing"


async def _disable(
    session: AsyncSession,
    settings: NotificationsSettings,
    subscription: Subscription,
    reason: str,
    now: datetime,
) -> None:
    """Disable the subscription (once) and tell its owners, in the round's transaction."""
    if subscription.status == SubscriptionStatus.disabled:
        return
    failing_since = subscription.failing_since
    subscription.status = SubscriptionStatus.disabled
    subscription.disabled_reason = (
        "The endpoint answered 410 Gone"
        if reason == GONE
        else f"Every delivery has failed since {(failing_since or now).isoformat()}"
    )
    subscription.version += 1
    subscription.updated_at = now
    told = await service.notify_subscription_disabled(
        session,
        subscription,
        reason=reason,
        failing_since=failing_since if reason == FAILING else None,
        disabled_at=now,
        public_url=settings.public_url,
        mail_domain=mail_domain(settings),
    )
    log.warning(
        "webhook_subscription_disabled",
        subscription_id=str(subscription.id),
        reason=reason,
        owners_told=told,
    )


async def _failing(
    session: AsyncSession,
    settings: NotificationsSettings,
    subscription: Subscription,
    now: datetime,
) -> None:
    """Count a failure toward disabling an endpoint that fails everything for days."""
    if subscription.failing_since is None:
        subscription.failing_since = now
    elif (now - subscription.failing_since).total_seconds() >= (
        settings.webhooks_disable_after_seconds
    ):
        await _disable(session, settings, subscription, FAILING, now)


async def _settle_one(
    session: AsyncSession,
    settings: NotificationsSettings,
    delivery: Delivery,
    subscription: Subscription,
    outcome: Outcome,
    now: datetime,
) -> dict[str, Any]:
    """What the attempt makes of the delivery (its changed columns, by id); the
    subscription's own changes are made on it."""
    code, error, seconds, response_headers = outcome
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {
        "id": delivery.id,
        "status": PENDING,
        "attempts": attempts,
        "last_status_code": code,
        "last_error": error,
        "latency_ms": round(seconds * 1000) if seconds is not None else None,
        "next_attempt_at": delivery.next_attempt_at,
        "delivered_at": None,
    }
    if code is not None and 200 <= code < 300:
        values.update(status=DELIVERED, delivered_at=now)
        subscription.failing_since = None
        if (
            delivery.event_type == VALIDATION_TYPE
            and subscription.status == SubscriptionStatus.pending
        ):
            subscription.status = SubscriptionStatus.active
            subscription.version += 1
            subscription.updated_at = now
    elif code == 410:
        values["status"] = FAILED
        await _disable(session, settings, subscription, GONE, now)
    else:
        await _failing(session, settings, subscription, now)
        if attempts > len(settings.webhooks_retry_seconds):
            values["status"] = FAILED
        else:
            retry_after = (
                _retry_after(response_headers, now)
                if code in (429, 503) and response_headers is not None
                else None
            )
            wait = _next_wait(settings, attempts, retry_after)
            values["next_attempt_at"] = now + timedelta(seconds=wait)
    return values


async def _settle(
    session: AsyncSession,
    settings: NotificationsSettings,
    sent: Sequence[tuple[Delivery, Outcome]],
) -> None:
    """Record a round's outcomes, in one transaction and one statement for the deliveries.

    The subscriptions are locked first, then the deliveries (each in id order), the order
    a subscription's deletion takes them in. FOR NO KEY UPDATE on the subscriptions: the
    consumer's inserts (their foreign key takes KEY SHARE on its row) do not wait."""
    d, s = Delivery, Subscription
    subscriptions = {
        row.id: row
        for row in (
            await session.execute(
                sa.select(s)
                .where(col(s.id).in_({delivery.subscription_id for delivery, _ in sent}))
                .order_by(col(s.id))
                .with_for_update(key_share=True)
            )
        ).scalars()
    }
    # Still pending: not deleted with its subscription, nor settled by another worker
    # after this one's lease ran out.
    pending = set(
        (
            await session.execute(
                sa.select(col(d.id))
                .where(
                    col(d.id).in_([delivery.id for delivery, _ in sent]), col(d.status) == PENDING
                )
                .order_by(col(d.id))
                .with_for_update()
            )
        ).scalars()
    )
    now = _now()
    marks = []
    for delivery, outcome in sent:
        subscription = subscriptions.get(delivery.subscription_id)
        if delivery.id in pending and subscription is not None:
            marks.append(await _settle_one(session, settings, delivery, subscription, outcome, now))
    if marks:
        # SQLAlchemy's bulk UPDATE by primary key: one pipelined statement (executemany).
        await session.execute(sa.update(d), marks)
    await session.commit()


async def _claim(
    session: AsyncSession, settings: NotificationsSettings, room: int
) -> list[Delivery]:
    """Lease up to `room` due deliveries (committed before any is sent): a worker that dies
    while sending leaves them due again when the lease ends."""
    lease = _now() + timedelta(seconds=settings.webhooks_lease_seconds)
    d = Delivery
    claimed = await session.execute(
        sa.update(d)
        .where(col(d.id).in_(_due(room).scalar_subquery()))
        .values(next_attempt_at=lease)
        .returning(d),
        execution_options={"synchronize_session": False},
    )
    due = list(claimed.scalars())
    await session.commit()
    return due


Sending = list[tuple[Delivery, asyncio.Task[Outcome]]]


class Stragglers:
    """Attempts a round stopped waiting for (a slow endpoint, up to the read timeout). Each
    round's group is recorded, in one transaction, when its last attempt ends; until then
    the deliveries stay leased and pending, so their requests' later events wait (the order
    per request holds) while every other endpoint's go on."""

    def __init__(self, wake: asyncio.Event) -> None:
        self.count = 0
        self._wake = wake
        self._groups: set[asyncio.Task[None]] = set()

    def add(self, app: FastAPI, waiting: Sending) -> None:
        self.count += len(waiting)
        group = asyncio.create_task(self._settle_when_done(app, waiting))
        self._groups.add(group)
        group.add_done_callback(self._groups.discard)

    async def _settle_when_done(self, app: FastAPI, waiting: Sending) -> None:
        try:
            outcomes = await asyncio.gather(*(task for _, task in waiting))
            async with app.state.sessionmaker() as session:
                sent = [(d, o) for (d, _), o in zip(waiting, outcomes, strict=True)]
                await _settle(session, app.state.settings, sent)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Still leased: tried again when the lease ends, as after a worker's crash.
            log.warning("webhook_settle_failed", error=repr(exc), deliveries=len(waiting))
        finally:
            self.count -= len(waiting)
            # Their requests' next deliveries may be due now, and the room is back.
            self._wake.set()

    async def cancel(self) -> None:
        groups = list(self._groups)
        for group in groups:
            group.cancel()
        await asyncio.gather(*groups, return_exceptions=True)


async def send_due(app: FastAPI, clients: Clients, late: Stragglers, room: int) -> int:
    """One round of the delivery worker: up to `room` deliveries; returns how many it took.

    The round's outcomes are recorded once all are in or `webhooks_settle_seconds` have
    passed; what is still out goes to `late`.
    """
    settings: NotificationsSettings = app.state.settings
    if room <= 0:
        return 0
    async with app.state.sessionmaker() as session:
        due = await _claim(session, settings, room)
        if not due:
            return 0
        ids = {delivery.subscription_id for delivery in due}
        subscriptions = {
            row.id: row
            for row in (
                await session.execute(sa.select(Subscription).where(col(Subscription.id).in_(ids)))
            ).scalars()
        }
        session.expunge_all()
        await session.commit()
    sending = [
        (d, asyncio.create_task(_send(clients, settings, d, subscriptions[d.subscription_id])))
        for d in due
    ]
    try:
        await asyncio.wait([task for _, task in sending], timeout=settings.webhooks_settle_seconds)
    except BaseException:
        for _, task in sending:
            task.cancel()
        raise
    waiting = [(d, task) for d, task in sending if not task.done()]
    if waiting:
        late.add(app, waiting)
    finished = [(d, task.result()) for d, task in sending if task.done()]
    if finished:
        async with app.state.sessionmaker() as session:
            await _settle(session, settings, finished)
    return len(due)


def sender(wake: asyncio.Event) -> Worker:
    """The delivery worker as a ServiceSpec worker: a round whenever `wake` is set (the
    consumer committed new deliveries, or a straggling group was recorded), at least every
    `webhooks_poll_seconds` (retries coming due), and at once again after a full round. Its
    HTTP clients live as long as it does, so an endpoint's connections are kept between
    rounds."""

    async def webhook_sender(app: FastAPI, stop: asyncio.Event) -> None:
        settings: NotificationsSettings = app.state.settings
        clients = Clients(
            connect_timeout=settings.webhooks_connect_timeout,
            read_timeout=settings.webhooks_read_timeout,
            per_host=settings.webhooks_host_connections,
            at_once=settings.webhooks_concurrency,
        )
        late = Stragglers(wake)
        try:
            while not stop.is_set():
                # Cleared before the round: deliveries committed during it wake the next.
                wake.clear()
                settings = app.state.settings
                # At most a batch in flight, stragglers included.
                room = settings.webhooks_batch - late.count
                try:
                    taken = await send_due(app, clients, late, room)
                    await clients.close_idle()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("webhook_sender_failed", error=repr(exc))
                    taken = 0
                if taken < room or room <= 0:
                    await first_of(stop, wake, settings.webhooks_poll_seconds)
        finally:
            # Attempts cut short stay leased and are sent again when the lease ends.
            await late.cancel()
            await clients.aclose()

    return webhook_sender
