"""The notifications service's tables. Its own registry keeps them apart from other services'.

`recipients` is the local copy of identity's accounts (kept from `identity.contact`
events: roles, agency, status and the email address, nothing else);
`preferences` is what a person chose here (language, email consent);
`state_services` keeps each published catalog version's name and refusal grounds,
so a rejection names its ground in the resident's language; `notifications` is the
inbox, and `emails` the outgoing mail, one row per inbox message that is mailed;
`held_emails` are emails of messages to people identity has not yet described here,
kept until their `identity.contact` event says whether and where to send them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from portal_shared.db import new_registry


class Base(SQLModel, registry=new_registry()):
    """Base of every table in the notifications database."""


def _jsonb() -> Any:
    return Field(sa_column=sa.Column(JSONB, nullable=False))


def _text(**kwargs: Any) -> Any:
    return Field(sa_type=sa.Text, **kwargs)


def _moment(nullable: bool = False) -> Any:
    return Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=nullable))


class Recipient(Base, table=True):
    """An identity account as its last applied `identity.contact` event described it."""

    __tablename__ = "recipients"

    id: UUID = Field(primary_key=True)
    roles: list[str] = _jsonb()
    agency_id: UUID | None = Field(default=None, index=True)
    status: str = _text()
    email: str | None = _text(default=None)
    # Identity's aggregate version: an event applies only if it is newer.
    version: int
    updated_at: datetime = _moment()


class Preference(Base, table=True):
    """A person's choices; absent means the defaults (Kazakh, no email)."""

    __tablename__ = "preferences"

    account_id: UUID = Field(primary_key=True)
    language: str = _text()
    email: bool
    updated_at: datetime = _moment()


class StateServiceCopy(Base, table=True):
    """One published version of a catalog state service: what messages quote of it."""

    __tablename__ = "state_services"

    id: UUID = Field(primary_key=True)
    version: int = Field(primary_key=True)
    name: dict[str, str] = _jsonb()
    # [{code, text: {kk, ru, en}}], as the catalog published them.
    refusal_grounds: list[dict[str, Any]] = _jsonb()


class Notification(Base, table=True):
    """An inbox message, rendered once in the person's language when its event arrived."""

    __tablename__ = "notifications"
    __table_args__ = (
        # One message per event and person, whatever the broker redelivers.
        sa.UniqueConstraint("event_id", "account_id"),
        sa.Index("ix_notifications_account_created", "account_id", "created_at", "id"),
    )

    id: UUID = Field(primary_key=True)
    account_id: UUID
    # None for a message about no application (a webhook subscription disabled).
    request_id: UUID | None = None
    event_id: str = _text()
    event_type: str = _text()
    language: str = _text()
    title: str = _text()
    body: str = _text()
    created_at: datetime = _moment()
    read_at: datetime | None = _moment(nullable=True)


class Email(Base, table=True):
    """An email of an inbox message: recorded before it is sent, marked after.

    Status follows GOV.UK Notify: created, sending, delivered (the SMTP server took
    it), temporary-failure (tried again at `next_attempt_at`), permanent-failure."""

    __tablename__ = "emails"
    __table_args__ = (
        # The sender's queue: only the rows still to send, oldest due first.
        sa.Index(
            "ix_emails_due",
            "next_attempt_at",
            postgresql_where=sa.text("status IN ('created', 'sending', 'temporary-failure')"),
        ),
    )

    id: UUID = Field(primary_key=True)
    notification_id: UUID = Field(unique=True, foreign_key="notifications.id")
    # Derived from the event and the person, so a resend is recognisably the same mail.
    message_id: str = _text(unique=True)
    to_address: str = _text()
    language: str = _text()
    subject: str = _text()
    text_body: str = _text()
    html_body: str = _text()
    status: str = _text()
    attempts: int = 0
    # When a created or failed row is next due; for a `sending` row, when its lease ends
    # (a sender that died mid-send leaves it to be tried again).
    next_attempt_at: datetime = _moment()
    last_error: str | None = _text(default=None)
    created_at: datetime = _moment()
    updated_at: datetime = _moment()
    delivered_at: datetime | None = _moment(nullable=True)


class HeldEmail(Base, table=True):
    """The email of an inbox message whose person was not yet known here when its event
    arrived (the request event overtook the `identity.contact` one): rendered then, and
    moved to `emails` or dropped once the person's account arrives."""

    __tablename__ = "held_emails"

    notification_id: UUID = Field(primary_key=True, foreign_key="notifications.id")
    account_id: UUID = Field(index=True)
    # As the email would have had it: derived from the event and the person.
    message_id: str = _text(unique=True)
    language: str = _text()
    subject: str = _text()
    text_body: str = _text()
    html_body: str = _text()
    # When the message was made: a hold has a bound (settings.email_hold_seconds).
    created_at: datetime = _moment()
