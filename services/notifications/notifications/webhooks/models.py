"""The webhooks' tables, in the notifications database (same registry as its other tables).

`webhook_subscriptions` holds what an agency system or an admin subscribed to. Its
`secret` signs deliveries and is therefore kept (a hash could not sign); the API returns
it only when it is made, at creation and rotation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from notifications.models import Base


def _moment(nullable: bool = False) -> Any:
    return Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=nullable))


class Subscription(Base, table=True):
    """One endpoint's subscription to a set of event types."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        # An agency system lists its own subscriptions, newest first.
        sa.Index("ix_webhook_subscriptions_owner", "owner_client_id", "created_at", "id"),
    )

    id: UUID = Field(primary_key=True)
    # The client (or admin's subject) that made it: an agency system sees only its own.
    owner_client_id: str = Field(sa_type=sa.Text)
    # The person to tell when the endpoint is disabled (an admin), if a person made it.
    owner_account_id: UUID | None = None
    # The agency whose events it receives; None (admins only) = every agency.
    agency_id: UUID | None = Field(default=None, index=True)
    url: str = Field(sa_type=sa.Text)
    # Event-type patterns, `*` wildcards allowed (fnmatch), e.g. "requests.request.*".
    types: list[str] = Field(sa_column=sa.Column(JSONB, nullable=False))
    description: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(sa_type=sa.Text)
    secret: str = Field(sa_type=sa.Text)
    # After a rotation the old secret signs too, until then, so deliveries in flight verify.
    previous_secret: str | None = Field(default=None, sa_type=sa.Text)
    previous_secret_until: datetime | None = _moment(nullable=True)
    # Since when every attempt has failed (None after any success); long enough disables it.
    failing_since: datetime | None = _moment(nullable=True)
    disabled_reason: str | None = Field(default=None, sa_type=sa.Text)
    version: int
    created_at: datetime = _moment()
    updated_at: datetime = _moment()


class Delivery(Base, table=True):
    """One event owed to one subscription: recorded when the event arrives, sent by the
    delivery worker, in order per (subscription, request)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # At most one delivery per event and subscription, whatever the broker redelivers.
        sa.UniqueConstraint("subscription_id", "event_id"),
        # The worker's queue: only the rows still to send, earliest due first.
        sa.Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        # The order per request, and the delivery log of a subscription.
        sa.Index("ix_webhook_deliveries_order", "subscription_id", "request_id", "created_at"),
    )

    id: UUID = Field(primary_key=True)
    subscription_id: UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(),
            sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        )
    )
    # The CloudEvents id: the `webhook-id` of every attempt.
    event_id: str = Field(sa_type=sa.Text)
    event_type: str = Field(sa_type=sa.Text)
    source: str = Field(sa_type=sa.Text)
    subject: str = Field(sa_type=sa.Text)
    event_time: datetime = _moment()
    # The request the event is about: a later event of it waits for this one.
    request_id: UUID | None = None
    data: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    # pending (to send or being sent), delivered, failed (gave up, or the endpoint is gone).
    status: str = Field(sa_type=sa.Text)
    attempts: int = 0
    # When a pending row is next due; while it is being sent, when its lease ends.
    next_attempt_at: datetime = _moment()
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    latency_ms: int | None = None
    created_at: datetime = _moment()
    delivered_at: datetime | None = _moment(nullable=True)
