"""Emails held for people not yet known here.

The request consumer and the `identity.contact` consumer are separate consumer groups, so a
request event can arrive before the applicant's account does (a group that joined late, or
a resident who registered and applied within a second). Its inbox message is written as
always; its email, unless the person's choice already rules email out, is rendered and held
in `held_emails`. When the account arrives, the held emails go to `emails` (the sender picks
them up) if the person is now writable by the usual rule (`consent`), and are dropped
otherwise.

The two consumers run in separate transactions. Holding and releasing for one account take
the same transaction-level advisory lock, and each looks again after taking it, so a
release never misses an email held at the same moment: whichever takes the lock second
sees what the first committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifications import consent
from notifications.models import Email, HeldEmail, Preference, Recipient
from notifications.schemas import EmailStatus

log = structlog.get_logger(__name__)

# The first key of the two-key advisory locks on an account's held emails (the relay's
# locks use another), the second is taken from the account id.
_LOCK_NAMESPACE = 0x4E48
# unnest() yields the keys in the order given, so they are locked in that order.
_LOCK = sa.text(
    "SELECT count(pg_advisory_xact_lock(:ns, key)) FROM unnest(CAST(:keys AS integer[])) AS key"
)


def _lock_key(account_id: UUID) -> int:
    return int.from_bytes(account_id.bytes[:4], "big", signed=True)


async def lock(session: AsyncSession, accounts: Iterable[UUID]) -> None:
    """Take the accounts' hold locks until the transaction ends, in one order everywhere
    (so two batches that hold for the same people never deadlock)."""
    keys = sorted({_lock_key(account) for account in accounts})
    if keys:
        await session.execute(_LOCK, {"ns": _LOCK_NAMESPACE, "keys": keys})


async def release(session: AsyncSession, accounts: Iterable[UUID], *, hold_for: timedelta) -> None:
    """Settle the held emails of those of `accounts` now known here (call it holding their
    locks): each goes to `emails` if the person may be written to now, else it is dropped.

    An email held longer than `hold_for` is dropped too: an address learned a week late
    would otherwise bring a flood of news that has since gone stale (a request accepted,
    then approved, then completed, all at once); the inbox still has every message, and
    the sender gives up on mail it could not deliver for days in the same spirit."""
    wanted = list(set(accounts))
    r, p, h = Recipient, Preference, HeldEmail
    known: dict[UUID, Any] = {
        row.id: row
        for row in await session.execute(
            sa.select(col(r.id), col(r.email), col(r.status), col(r.roles)).where(
                col(r.id).in_(wanted)
            )
        )
    }
    if not known:
        return
    held = list(
        await session.execute(
            sa.delete(h)
            .where(col(h.account_id).in_(list(known)))
            .returning(
                col(h.notification_id),
                col(h.account_id),
                col(h.message_id),
                col(h.language),
                col(h.subject),
                col(h.text_body),
                col(h.html_body),
                col(h.created_at),
            )
        )
    )
    if not held:
        return
    chosen: dict[UUID, Any] = {
        row.account_id: row
        for row in await session.execute(
            sa.select(col(p.account_id), col(p.language), col(p.email)).where(
                col(p.account_id).in_(list(known))
            )
        )
    }
    now = datetime.now(UTC)
    oldest = now - hold_for
    emails: list[dict[str, Any]] = []
    stale = 0
    for row in held:
        recipient = known[row.account_id]
        prefs = consent.preferences(chosen.get(row.account_id), recipient.roles)
        to = consent.address(prefs, recipient)
        if to is None:
            continue
        if row.created_at < oldest:
            stale += 1
            continue
        emails.append(
            {
                "id": uuid.uuid4(),
                "notification_id": row.notification_id,
                "message_id": row.message_id,
                "to_address": to,
                "language": row.language,
                "subject": row.subject,
                "text_body": row.text_body,
                "html_body": row.html_body,
                "status": EmailStatus.created.value,
                "attempts": 0,
                # Made now: the sender's give-up age counts from when it could be sent.
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
        )
    if emails:
        await session.execute(insert(Email).values(emails).on_conflict_do_nothing())
    log.info(
        "held_emails_settled",
        accounts=len(known),
        released=len(emails),
        stale=stale,
        ruled_out=len(held) - len(emails) - stale,
    )
