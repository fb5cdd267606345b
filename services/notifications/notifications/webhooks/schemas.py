"""What the subscriptions API reads and returns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# The request events an agency system can subscribe to (the contract's Events section).
REQUEST_EVENTS = (
    "submitted",
    "accepted",
    "info_requested",
    "resubmitted",
    "approved",
    "rejected",
    "completed",
    "cancelled",
    "overdue",
)
KNOWN_TYPES: tuple[str, ...] = tuple(f"requests.request.{kind}.v1" for kind in REQUEST_EVENTS)
VALIDATION_TYPE = "portal.subscription.validation.v1"

# Event-type patterns: dot-separated words, `*` standing for any run of characters.
TYPE_PATTERN = r"^[a-z0-9_*]+(\.[a-z0-9_*]+)*$"
TypePattern = Annotated[str, StringConstraints(pattern=TYPE_PATTERN, max_length=200)]


class SubscriptionStatus(StrEnum):
    pending = "pending"
    active = "active"
    paused = "paused"
    disabled = "disabled"


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where deliveries go: an `https` URL whose host resolves to public "
        "addresses only",
        examples=["https://agency.example.kz/portal-events"],
    )
    types: list[TypePattern] = Field(
        min_length=1,
        max_length=50,
        description="Event types; `*` matches any run of characters",
        examples=[["requests.request.*"]],
    )
    description: str | None = Field(default=None, max_length=500)
    agency_id: UUID | None = Field(
        default=None,
        description="Admins only: the agency whose events to receive (none: every agency). "
        "An agency system always receives its own agency's events.",
    )


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "paused"] | None = Field(
        default=None, description="`paused` stops deliveries; `active` resumes them"
    )
    types: list[TypePattern] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=500)


class SubscriptionRead(BaseModel):
    id: UUID
    url: str
    types: list[str]
    status: SubscriptionStatus
    description: str | None
    agency_id: UUID | None = Field(description="None: every agency's events (admins only)")
    disabled_reason: str | None = Field(
        default=None, description="Why the portal disabled it (the endpoint gone or failing)"
    )
    version: int
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(
        description="`whsec_` + base64 of 32 random bytes; shown only now and on rotation"
    )


class SubscriptionPage(BaseModel):
    items: list[SubscriptionRead]
    next_cursor: str | None = None


class DeliveryRead(BaseModel):
    id: UUID
    event_id: str = Field(description="The event's CloudEvents id, sent as `webhook-id`")
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None = Field(description="The endpoint's last HTTP status")
    last_error: str | None
    latency_ms: int | None = Field(description="How long the last attempt took")
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = None


class Recover(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime = Field(description="Resend every delivery that failed since then")


class Recovered(BaseModel):
    recovered: int = Field(description="How many failed deliveries are sent again")


class SecretRotated(BaseModel):
    secret: str = Field(description="The new secret; the old one also signs for 24 hours")
    previous_secret_until: datetime
