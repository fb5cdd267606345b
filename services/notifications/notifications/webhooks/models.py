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
    version: int
    created_at: datetime = _moment()
    updated_at: datetime = _moment()
