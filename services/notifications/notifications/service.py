"""Use cases of the notifications service: local copies kept from events, the inbox, the
preferences, and turning a request event into an inbox message (and an email to send);
also telling a webhook subscription's owners that the portal disabled it.

They run in the caller's session (the request's, or the consumer's transaction that
also records the event's id) and raise typed errors rendered as problem+json.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications import consent, held, statements
from notifications.errors import NotificationNotFound
from notifications.messages import (
    OFFICER_OVERDUE,
    SUBSCRIPTION_DISABLED,
    MessageContext,
    Rendered,
    SubscriptionContext,
    render,
    render_subscription_disabled,
)
from notifications.models import Email, Notification, Preference, Recipient, StateServiceCopy
from notifications.schemas import (
    EmailStatus,
    Language,
    NotificationPage,
    NotificationRead,
    Preferences,
    RequestEventData,
    StateServiceData,
    UserEventData,
)
from notifications.webhooks.models import Subscription
from portal_shared.events import CloudEvent
from portal_shared.paging import CursorCodec, NewestFirst

log = structlog.get_logger(__name__)

# Message-IDs are uuid5s under this namespace of the event id and the person.
MESSAGE_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:baikonur-portal:notifications:email")


def _now() -> datetime:
    return datetime.now(UTC)


# Local copies ----------------------------------------------------------------------------


async def apply_user(
    session: AsyncSession, data: dict[str, Any], *, disabled: bool, hold_for: timedelta
) -> bool:
    """Keep identity's account if `data` is newer than the copy, and settle the emails held
    for it (`held`: each is sent if the person may now be written to and it is not older
    than `hold_for`, else dropped). Returns whether the copy changed."""
    user = UserEventData.model_validate(data)
    copy = await session.get(Recipient, user.id, with_for_update=True)
    if copy is not None and copy.version >= user.version:
        return False
    await held.lock(session, [user.id])
    status = "disabled" if disabled else user.status
    if copy is None:
        copy = Recipient(id=user.id, version=user.version, status=status, roles=[])
        session.add(copy)
    copy.roles = list(user.roles)
    copy.agency_id = user.agency_id
    copy.status = status
    copy.email = user.email
    copy.version = user.version
    copy.updated_at = _now()
    await session.flush()
    await held.release(session, [user.id], hold_for=hold_for)
    return True


async def apply_state_service(session: AsyncSession, data: dict[str, Any]) -> None:
    """Keep a published version's name and refusal grounds (a version never changes them)."""
    offering = StateServiceData.model_validate(data)
    values = {
        "id": offering.id,
        "version": offering.version,
        "name": offering.name,
        "refusal_grounds": [g.model_dump() for g in offering.refusal_grounds],
    }
    statement = insert(StateServiceCopy).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["id", "version"],
            set_={
                "name": statement.excluded.name,
                "refusal_grounds": statement.excluded.refusal_grounds,
            },
        )
    )


# Request events -> messages --------------------------------------------------------------


async def preferences_of(session: AsyncSession, account_id: UUID) -> Preferences:
    """What the person chose, or the defaults (`consent.preferences`)."""
    row = await session.get(Preference, account_id)
    if row is not None:
        return consent.preferences(row, None)
    recipient = await session.get(Recipient, account_id)
    return consent.preferences(None, recipient.roles if recipient is not None else None)


def message_id(event_id: str, account_id: UUID, domain: str) -> str:
    """The email's Message-ID: the same for every redelivery of the same event to the same
    person, so even a resend after a crash is recognisably one message."""
    return f"<{uuid.uuid5(MESSAGE_ID_NAMESPACE, f'{event_id}/{account_id}')}@{domain}>"


async def notify_applicants(
    session: AsyncSession,
    events: Sequence[tuple[CloudEvent, str]],
    *,
    public_url: str,
    mail_domain: str,
    hold_for: timedelta,
) -> None:
    """Put each (event, message name)'s message in its applicant's inbox, in their language,
    and record its email (to be sent by the sender) if they consented and identity gave an
    address. An applicant identity has not described here yet, whose choice does not rule
    email out, has the email held until their account arrives (`held`). A whole batch costs
    three reads and up to three pipelined writes (and, when it holds emails, a lock and a
    look at whether their accounts arrived meanwhile): the consumer's pace is what the
    email's latency rests on."""
    parsed: list[tuple[CloudEvent, str, RequestEventData, UUID]] = []
    for event, name in events:
        data = RequestEventData.model_validate(event.data)
        if data.applicant_id is None:
            # Events from before the applicant's id was published name nobody to tell.
            log.info("request_event_without_applicant", event_id=event.id, type=event.type)
            continue
        parsed.append((event, name, data, data.applicant_id))
    if not parsed:
        return
    accounts = list({account for *_, account in parsed})
    offerings = list({(d.service_id, d.service_version) for _, _, d, _ in parsed})
    p, r, s = Preference, Recipient, StateServiceCopy
    chosen: dict[UUID, Any] = {
        row.account_id: row
        for row in await session.execute(
            sa.select(col(p.account_id), col(p.language), col(p.email)).where(
                col(p.account_id).in_(accounts)
            )
        )
    }
    known: dict[UUID, Any] = {
        row.id: row
        for row in await session.execute(
            sa.select(col(r.id), col(r.email), col(r.status), col(r.roles)).where(
                col(r.id).in_(accounts)
            )
        )
    }
    texts: dict[tuple[UUID, int], Any] = {
        (row.id, row.version): row
        for row in await session.execute(
            sa.select(col(s.id), col(s.version), col(s.name), col(s.refusal_grounds)).where(
                sa.tuple_(col(s.id), col(s.version)).in_(offerings)
            )
        )
    }
    messages: list[tuple[Delivery, dict[str, Any]]] = []
    for event, name, data, account_id in parsed:
        choice, recipient = chosen.get(account_id), known.get(account_id)
        offering = texts.get((data.service_id, data.service_version))
        prefs = consent.preferences(choice, recipient.roles if recipient is not None else None)
        language: Language = prefs.language
        ground: str | None = None
        if data.reason_code is not None:
            # The event's own wording first: the catalog's copy of the service may reach
            # this service after the request's events do (separate consumer groups).
            ground = (data.reason_text or {}).get(language) or data.reason_code
            for g in (offering.refusal_grounds if offering is not None else None) or []:
                if g.get("code") == data.reason_code and not data.reason_text:
                    ground = str(g.get("text", {}).get(language) or data.reason_code)
        # The web app's page of the application (it shows the result and its download),
        # not the API: a resident follows this link from an email.
        link = f"{public_url.rstrip('/')}/requests/{data.id}"
        context = MessageContext(
            number=data.number,
            service_name=(offering.name if offering is not None else {}).get(language, ""),
            due_date=data.due_date,
            link=link,
            comment=data.comment,
            ground=ground,
        )
        rendered = render(name, language, context)
        address = consent.address(prefs, recipient)
        # Not known yet: a staff member's default or a resident's consent may still make
        # it an email, so it is held; only a choice of no email rules it out now.
        hold = recipient is None and (choice is None or bool(choice.email))
        messages.append(
            _message(
                event,
                name,
                account_id,
                data.id,
                language,
                rendered,
                address=address,
                hold=hold,
                mail_domain=mail_domain,
            )
        )
    await _write(session, messages)
    holding = {values["account_id"] for delivery, values in messages if delivery == "held"}
    if holding:
        # An account that arrived while this batch ran was settled without these emails.
        await held.lock(session, holding)
        await held.release(session, holding, hold_for=hold_for)


async def agency_officers(session: AsyncSession, agency_id: UUID) -> list[Recipient]:
    """The agency's active officers (as identity last described them)."""
    r = Recipient
    rows = await session.execute(
        sa.select(r).where(col(r.agency_id) == agency_id, col(r.status) == "active")
    )
    return [officer for officer in rows.scalars() if "officer" in officer.roles]


async def notify_officers(
    session: AsyncSession, event: CloudEvent, *, public_url: str, mail_domain: str
) -> int:
    """Tell every active officer of the responsible agency that a request went overdue, in
    their own language. Returns how many officers were told."""
    data = RequestEventData.model_validate(event.data)
    officers = await agency_officers(session, data.agency_id)
    offering = await session.get(StateServiceCopy, (data.service_id, data.service_version))
    messages: list[tuple[Delivery, dict[str, Any]]] = []
    for officer in officers:
        prefs = await preferences_of(session, officer.id)
        context = MessageContext(
            number=data.number,
            service_name=offering.name.get(prefs.language, "") if offering is not None else "",
            due_date=data.due_date,
            link=f"{public_url.rstrip('/')}/officer/requests/{data.id}",
        )
        rendered = render(OFFICER_OVERDUE, prefs.language, context)
        messages.append(
            _message(
                event,
                "overdue",
                officer.id,
                data.id,
                prefs.language,
                rendered,
                address=consent.address(prefs, officer),
                mail_domain=mail_domain,
            )
        )
    await _write(session, messages)
    return len(officers)


# How a message goes out: the inbox only, with an email, or with an email held.
Delivery = Literal["inbox", "email", "held"]


def _message(
    event: CloudEvent,
    name: str,
    account_id: UUID,
    request_id: UUID,
    language: Language,
    rendered: Rendered,
    *,
    address: str | None,
    mail_domain: str,
    hold: bool = False,
) -> tuple[Delivery, dict[str, Any]]:
    """The parameters of one inbox message, and with an `address` (or to `hold`) of its
    email, and how it goes out."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "request_id": request_id,
        "event_id": event.id,
        "event_type": name,
        "language": language,
        "title": rendered.subject,
        "body": rendered.text,
        "now": _now(),
    }
    if address is None and not hold:
        return "inbox", values
    values.update(message_id=message_id(event.id, account_id, mail_domain), html=rendered.html)
    if address is None:
        return "held", values
    values.update(email_id=uuid.uuid4(), address=address)
    return "email", values


_STATEMENTS: tuple[tuple[Delivery, sa.TextClause], ...] = (
    ("inbox", statements.MESSAGE),
    ("email", statements.MESSAGE_AND_EMAIL),
    ("held", statements.MESSAGE_AND_HELD_EMAIL),
)


async def _write(
    session: AsyncSession, messages: Sequence[tuple[Delivery, dict[str, Any]]]
) -> None:
    """Put the messages in their inboxes, once per event and person, and record the emails
    of those that have one for the sender (or hold them): one pipelined statement per kind."""
    for delivery, statement in _STATEMENTS:
        params = [values for d, values in messages if d == delivery]
        if params:
            await session.execute(statement, params)


# The inbox -------------------------------------------------------------------------------


def _read(notification: Notification, email_status: str | None) -> NotificationRead:
    return NotificationRead(
        id=notification.id,
        request_id=notification.request_id,
        event_type=notification.event_type,
        title=notification.title,
        body=notification.body,
        created_at=notification.created_at,
        read_at=notification.read_at,
        email_status=EmailStatus(email_status) if email_status is not None else None,
    )


def _with_email_status() -> sa.Select[Notification, str]:
    # The email's status is NULL (None) for a message that was not emailed.
    return sa.select(Notification, col(Email.status)).outerjoin(
        Email, col(Email.notification_id) == col(Notification.id)
    )


async def list_notifications(
    session: AsyncSession,
    account_id: UUID,
    *,
    unread: bool,
    limit: int,
    cursor: str | None,
    cursors: CursorCodec,
) -> NotificationPage:
    """The person's messages, newest first; keyset-paged on (created_at, id)."""
    # Bound to the person too: an admin's cursor of one inbox is no key to another's.
    kind = f"notifications:{account_id}:-created_at" + (":unread" if unread else "")
    n = Notification
    query = _with_email_status().where(col(n.account_id) == account_id)
    if unread:
        query = query.where(col(n.read_at).is_(None))
    keyset = NewestFirst(cursors, kind, col(n.created_at), col(n.id))
    rows = (await session.execute(keyset.query(query, cursor, limit))).all()
    items, next_cursor = keyset.page([_read(row[0], row[1]) for row in rows], limit)
    return NotificationPage(items=items, next_cursor=next_cursor)


async def mark_read(
    session: AsyncSession, account_id: UUID, notification_id: UUID
) -> NotificationRead:
    """Mark the person's message read (once: the first reading's time is kept)."""
    n = Notification
    row = (
        await session.execute(
            _with_email_status()
            .where(col(n.id) == notification_id, col(n.account_id) == account_id)
            .with_for_update(of=Notification)
        )
    ).first()
    if row is None:
        # Another person's message is as absent as one that never existed.
        raise NotificationNotFound(
            message_key="error.no-notification", params={"id": notification_id}
        )
    notification, email_status = row
    if notification.read_at is None:
        notification.read_at = _now()
        await session.flush()
    return _read(notification, email_status)


async def set_preferences(
    session: AsyncSession, account_id: UUID, prefs: Preferences
) -> Preferences:
    statement = insert(Preference).values(
        account_id=account_id, language=prefs.language, email=prefs.email, updated_at=_now()
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id"],
            set_={
                "language": statement.excluded.language,
                "email": statement.excluded.email,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )
    return prefs


# Webhook subscriptions' owners -----------------------------------------------------------


async def subscription_owners(
    session: AsyncSession, subscription: Subscription
) -> list[tuple[UUID, Recipient | None]]:
    """Who answers for a webhook subscription, each with their local account copy if any:
    the administrator who made it; for an agency system's (client credentials, no person
    behind it), the active officers of its agency, who are the people answering for the
    agency's systems on the portal."""
    if subscription.owner_account_id is not None:
        account = subscription.owner_account_id
        return [(account, await session.get(Recipient, account))]
    if subscription.agency_id is None:
        return []
    return [(o.id, o) for o in await agency_officers(session, subscription.agency_id)]


def _shown_url(url: str) -> tuple[str, str]:
    """The URL as a message shows it, and its host: without its query string, where an
    endpoint may keep a token of its own (a subscription's URL carries no credentials)."""
    parts = urlsplit(url)
    shown = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return (shown + "?…" if parts.query else shown), parts.hostname or ""


async def notify_subscription_disabled(
    session: AsyncSession,
    subscription: Subscription,
    *,
    reason: str,
    failing_since: datetime | None,
    disabled_at: datetime,
    public_url: str,
    mail_domain: str,
) -> int:
    """Tell the subscription's owners (`subscription_owners`) that the portal disabled it
    (`reason`: `gone` or `failing`), each in their inbox and, if they take email, by email.
    Written in the transaction that disables it: the message's event id, and so the email's
    Message-ID, derive from the subscription and that moment, so it is told once. Returns
    how many people were told."""
    event_id = str(
        uuid.uuid5(MESSAGE_ID_NAMESPACE, f"subscription-disabled/{subscription.id}/{disabled_at}")
    )
    url, host = _shown_url(subscription.url)
    context = SubscriptionContext(
        subscription_id=str(subscription.id),
        url=url,
        host=host,
        reason=reason,
        # The API's address, not the web app's: subscriptions are managed through the API
        # (the web app has no page of them), and the message says which call re-enables it.
        link=f"{public_url.rstrip('/')}/api/v1/subscriptions/{subscription.id}",
        failing_since=failing_since,
    )
    owners = await subscription_owners(session, subscription)
    messages: list[tuple[Delivery, dict[str, Any]]] = []
    for account_id, recipient in owners:
        prefs = await preferences_of(session, account_id)
        rendered = render_subscription_disabled(prefs.language, context)
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "account_id": account_id,
            "request_id": None,
            "event_id": event_id,
            "event_type": SUBSCRIPTION_DISABLED,
            "language": prefs.language,
            "title": rendered.subject,
            "body": rendered.text,
            "now": disabled_at,
        }
        # Not held (as a resident's is) when identity has not described the owner yet: a
        # staff account is described when it is made, before it can make a subscription.
        address = consent.address(prefs, recipient)
        if address is None:
            messages.append(("inbox", values))
            continue
        values.update(
            email_id=uuid.uuid4(),
            message_id=message_id(event_id, account_id, mail_domain),
            address=address,
            html=rendered.html,
        )
        messages.append(("email", values))
    await _write(session, messages)
    if not owners:
        log.warning("subscription_disabled_nobody_to_tell", subscription_id=str(subscription.id))
    return len(owners)
