"""The email sender: takes the emails due, sends them over SMTP, and marks what happened.

Exactly once to a person, as far as SMTP allows: an email row is written in the same
transaction as its inbox message (so a replayed event adds none), claimed as
`sending` in a transaction of its own before the SMTP conversation, and marked
`delivered` (the server took it), `temporary-failure` (tried again with backoff) or
`permanent-failure` (a 5xx reply, or too old) after it. Only a sender that dies
between the server's "250 OK" and the mark can send one twice, after the claim's lease;
the resend carries the same `Message-ID`, derived from the event and the person.

The sender is woken by the consumer when it commits new emails (no polling delay), and
sends a claimed batch over a few SMTP connections at once, kept open between rounds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, parseaddr
from typing import Any
from uuid import UUID

import aiosmtplib
import sqlalchemy as sa
import structlog
from fastapi import FastAPI
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from notifications.models import Email
from notifications.schemas import EmailStatus
from notifications.settings import NotificationsSettings
from portal_shared.app import Worker

log = structlog.get_logger(__name__)

EMAILS = Counter("portal_emails_total", "Email send attempts by outcome", ["outcome"])

_DUE = (EmailStatus.created, EmailStatus.sending, EmailStatus.temporary_failure)


@dataclass(frozen=True)
class Outcome:
    id: UUID
    status: EmailStatus
    error: str | None = None


# SMTP's line ends, in the compat32 generator.
_SMTP_LINES = compat32.clone(linesep="\r\n")


def build_message(row: Any, sender: str) -> bytes:
    """The MIME email of a claimed row: a plain-text part and an HTML alternative.

    Built with the compat32 classes: the modern `EmailMessage` parses every header it is
    given and cost ~8 ms an email on this machine, which is the sender's whole budget at
    200 emails/s; these take ~1 ms for the same bytes."""
    message = MIMEMultipart("alternative")
    message["From"] = sender
    message["To"] = row.to_address
    subject: str = row.subject
    if not subject.isascii():
        subject = Header(subject, "utf-8", header_name="Subject").encode()
    message["Subject"] = subject
    message["Message-ID"] = row.message_id
    message["Date"] = format_datetime(datetime.now(UTC))
    # RFC 3834: no auto-replies to an automatic message.
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = row.language
    message.attach(MIMEText(row.text_body, "plain", "utf-8"))
    message.attach(MIMEText(row.html_body, "html", "utf-8"))
    return message.as_bytes(policy=_SMTP_LINES)


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], settings: NotificationsSettings
) -> list[Any]:
    """Mark a batch of due emails `sending` (committed before any is sent) and return them.

    A `sending` row is due again only once its lease is over: its sender died."""
    now = datetime.now(UTC)
    e = Email
    due = (
        sa.select(col(e.id))
        .where(col(e.status).in_([s.value for s in _DUE]), col(e.next_attempt_at) <= now)
        .order_by(col(e.next_attempt_at))
        .limit(settings.email_batch)
        .with_for_update(skip_locked=True)
    )
    async with sessionmaker() as session, session.begin():
        result = await session.execute(
            sa.update(e)
            .where(col(e.id).in_(due.scalar_subquery()))
            .values(
                status=EmailStatus.sending.value,
                attempts=col(e.attempts) + 1,
                next_attempt_at=now + timedelta(seconds=settings.email_lease_seconds),
                updated_at=now,
            )
            .returning(
                col(e.id),
                col(e.message_id),
                col(e.to_address),
                col(e.language),
                col(e.subject),
                col(e.text_body),
                col(e.html_body),
                col(e.attempts),
                col(e.created_at),
            )
        )
        return list(result.all())


def _refused(email_id: UUID, exc: aiosmtplib.SMTPException) -> Outcome | None:
    """The outcome of a reply about this one message (5xx permanent, else temporary), or
    None when the connection itself failed."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        permanent = bool(codes) and all(code >= 500 for code in codes)
        error = str(exc)
    elif isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPServerDisconnected
    ):
        permanent = exc.code >= 500
        error = f"{exc.code} {exc.message}"
    else:
        return None
    status = EmailStatus.permanent_failure if permanent else EmailStatus.temporary_failure
    return Outcome(email_id, status, error[:500])


class Connections:
    """SMTP connections kept open between rounds, at most `smtp_connections` in use at once:
    the sender's emails go out over them concurrently, and a round pays no connect."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self._idle: list[aiosmtplib.SMTP] = []

    async def take(self) -> aiosmtplib.SMTP:
        """An open connection: an idle one the server has not closed, or a new one."""
        while self._idle:
            smtp = self._idle.pop()
            if smtp.is_connected:
                return smtp
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout,
        )
        await smtp.connect()
        return smtp

    def give_back(self, smtp: aiosmtplib.SMTP) -> None:
        if smtp.is_connected:
            self._idle.append(smtp)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for smtp in idle:
            await _hang_up(smtp)


async def _hang_up(smtp: aiosmtplib.SMTP) -> None:
    if smtp.is_connected:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            smtp.close()


async def _send_over(
    rows: Sequence[Any], settings: NotificationsSettings, connections: Connections
) -> tuple[list[Outcome], bool]:
    """Send the rows one after the other over one connection; a connection lost fails the
    rest temporarily. Also says whether the server could be reached at all."""
    outcomes: list[Outcome] = []
    envelope_from = parseaddr(settings.email_from)[1]
    try:
        smtp = await connections.take()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.warning("smtp_unavailable", error=repr(exc), waiting=len(rows))
        return [Outcome(r.id, EmailStatus.temporary_failure, repr(exc)[:500]) for r in rows], False
    for index, row in enumerate(rows):
        try:
            await smtp.sendmail(
                envelope_from, [row.to_address], build_message(row, settings.email_from)
            )
            outcomes.append(Outcome(row.id, EmailStatus.delivered))
        except aiosmtplib.SMTPException as exc:
            refused = _refused(row.id, exc)
            if refused is not None:
                outcomes.append(refused)
                continue
            lost: Exception = exc
        except (OSError, TimeoutError) as exc:
            lost = exc
        else:
            continue
        error = repr(lost)[:500]
        outcomes += [Outcome(r.id, EmailStatus.temporary_failure, error) for r in rows[index:]]
        # The conversation's state is unknown: this connection is not used again.
        await _hang_up(smtp)
        return outcomes, True
    connections.give_back(smtp)
    return outcomes, True


async def _deliver(
    rows: Sequence[Any], settings: NotificationsSettings, connections: Connections
) -> tuple[list[Outcome], bool]:
    """Send the rows over up to `smtp_connections` connections at once (each takes every
    n-th row, so the oldest go first). Also says whether the server could be reached."""
    n = max(1, min(settings.smtp_connections, len(rows)))
    results = await asyncio.gather(
        *(_send_over(rows[i::n], settings, connections) for i in range(n))
    )
    return [o for outcomes, _ in results for o in outcomes], any(r for _, r in results)


def backoff(attempts: int, settings: NotificationsSettings) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling, capped."""
    delay = settings.email_backoff_seconds * 2 ** max(attempts - 1, 0)
    return float(min(delay, settings.email_backoff_max_seconds))


# Only the claim this sender holds is marked: a row whose lease ran out and that another
# sender took meanwhile is left to it.
_MARK = sa.text(
    """
    UPDATE emails
    SET status = :status, updated_at = :now, last_error = :error,
        delivered_at = COALESCE(:delivered_at, delivered_at),
        next_attempt_at = COALESCE(:next_attempt_at, next_attempt_at)
    WHERE id = :id AND status = 'sending' AND attempts = :attempts
    """
).bindparams(
    sa.bindparam("now", type_=sa.DateTime(timezone=True)),
    sa.bindparam("delivered_at", type_=sa.DateTime(timezone=True)),
    sa.bindparam("next_attempt_at", type_=sa.DateTime(timezone=True)),
)


async def _mark(
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: Sequence[Any],
    outcomes: Sequence[Outcome],
    settings: NotificationsSettings,
) -> None:
    """Record what happened to each claimed row, in one transaction and one pipelined
    statement."""
    now = datetime.now(UTC)
    by_id = {r.id: r for r in rows}
    params: list[dict[str, Any]] = []
    for outcome in outcomes:
        row = by_id[outcome.id]
        status = outcome.status
        values: dict[str, Any] = {
            "id": outcome.id,
            "attempts": row.attempts,
            "status": status.value,
            "now": now,
            "error": outcome.error,
            "delivered_at": None,
            "next_attempt_at": None,
        }
        if status is EmailStatus.delivered:
            values["delivered_at"] = now
            values["error"] = None
        if status is EmailStatus.temporary_failure:
            age = (now - row.created_at).total_seconds()
            if age > settings.email_give_up_seconds:
                values["status"] = EmailStatus.permanent_failure.value
            else:
                wait = backoff(row.attempts, settings)
                values["next_attempt_at"] = now + timedelta(seconds=wait)
        EMAILS.labels(values["status"]).inc()
        params.append(values)
    if params:
        async with sessionmaker() as session, session.begin():
            await session.execute(_MARK, params)


@dataclass
class _Server:
    """What this process knows of the SMTP server: while it cannot be reached, the sender
    waits (doubling, capped) before it claims again, rather than churning every due row."""

    failures: int = 0
    retry_at: float = 0.0


async def send_due(app: FastAPI, connections: Connections) -> None:
    """Send every email due now, batch after batch."""
    settings: NotificationsSettings = app.state.settings
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    server: _Server | None = getattr(app.state, "smtp_server", None)
    if server is None:
        server = app.state.smtp_server = _Server()
    if time.monotonic() < server.retry_at:
        return
    while True:
        rows = await _claim(sessionmaker, settings)
        if not rows:
            return
        outcomes, reached = await _deliver(rows, settings, connections)
        await _mark(sessionmaker, rows, outcomes, settings)
        if not reached:
            server.failures += 1
            server.retry_at = time.monotonic() + backoff(server.failures, settings)
            return
        server.failures = 0
        if len(rows) < settings.email_batch or any(
            o.status is EmailStatus.temporary_failure for o in outcomes
        ):
            return


def sender(wake: asyncio.Event) -> Worker:
    """The sender as a ServiceSpec worker: it sends what is due whenever `wake` is set (the
    consumer committed new emails) and, for retries and other processes' emails, at least
    every `email_poll_seconds`. A failed round (the database away) is tried again."""

    async def email_sender(app: FastAPI, stop: asyncio.Event) -> None:
        settings: NotificationsSettings = app.state.settings
        connections = Connections(settings)
        try:
            while not stop.is_set():
                # Cleared before the round: emails committed during it wake the next one.
                wake.clear()
                try:
                    await send_due(app, connections)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("email_sender_failed", error=repr(exc))
                    await first_of(stop, None, settings.email_poll_seconds)
                    continue
                await first_of(stop, wake, settings.email_poll_seconds)
        finally:
            await connections.close()

    return email_sender


async def first_of(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    """Wait until `stop` or `wake` is set, or `seconds` pass."""
    waits = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waits.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
