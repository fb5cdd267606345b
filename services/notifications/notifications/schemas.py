"""What the notifications API reads and returns, and what it reads from other services' events
(only the fields it uses; unknown fields are ignored, so a producer may add some)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["kk", "ru", "en"]
LANGUAGES: tuple[Language, ...] = ("kk", "ru", "en")


class EmailStatus(StrEnum):
    """An email's delivery status, as GOV.UK Notify names them."""

    created = "created"
    sending = "sending"
    delivered = "delivered"
    temporary_failure = "temporary-failure"
    permanent_failure = "permanent-failure"


class NotificationRead(BaseModel):
    id: UUID
    request_id: UUID | None = Field(
        description="The application it is about; null for a message about no application"
    )
    event_type: str = Field(
        description="What it tells: a request event's name, e.g. `info_requested`, or "
        "`subscription_disabled` (a webhook subscription of yours was disabled)"
    )
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
    email_status: EmailStatus | None = Field(
        description="The email's delivery status; null when no email was sent"
    )


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    next_cursor: str | None


class Preferences(BaseModel):
    """A person's notification preferences."""

    model_config = ConfigDict(extra="forbid")

    language: Language = Field(default="kk", description="The language of messages and emails")
    email: bool = Field(
        default=False,
        description="Whether messages are also emailed (until chosen: no for residents, "
        "whose consent it needs, yes for officers, at their work address)",
    )


# What this service reads from other services' events ------------------------------------


class _EventData(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UserEventData(_EventData):
    """identity.contact: the account, and its email address."""

    id: UUID
    roles: list[str]
    agency_id: UUID | None = None
    status: str
    version: int
    email: str | None = None


class RefusalGround(_EventData):
    code: str
    text: dict[str, str]


class StateServiceData(_EventData):
    """catalog.service: a published version, of which messages quote the name and grounds."""

    id: UUID
    version: int
    name: dict[str, str]
    refusal_grounds: list[RefusalGround] = []


class RequestEventData(_EventData):
    """requests.request: ids and status, the applicant's id, and for a request for
    information or a rejection the officer's comment and the refusal ground's code."""

    id: UUID
    number: str
    status: str
    service_id: UUID
    service_version: int
    agency_id: UUID
    due_date: date
    version: int
    occurred_at: datetime
    applicant_id: UUID | None = None
    comment: str | None = None
    reason_code: str | None = None
    # The ground's wording by language; events from before it was published have none.
    reason_text: dict[str, str] | None = None
