"""What the requests service publishes: its topic, event types and their payload."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from portal_shared.events import add_event
from service_requests.models import ServiceRequest
from service_requests.schemas import RequestEventData
from service_requests.workflow import EVENT_NAMES, Status

TOPIC = "requests.request"
SOURCE = "/requests"


def event_type(name: str) -> str:
    """`requests.request.<name>.v1`, the contract's naming of event types."""
    return f"{TOPIC}.{name}.v1"


class RequestEventPayload(RequestEventData):
    """What the notifications service needs to tell the applicant, beyond ids and status:
    whom to tell (an opaque account id, not personal data), and the officer's own words."""

    applicant_id: UUID
    comment: str | None = Field(
        default=None, description="The officer's comment on this action (e.g. what is missing)"
    )
    reason_code: str | None = Field(
        default=None, description="The refusal ground of a rejected request"
    )
    reason_text: dict[str, str] | None = Field(
        default=None,
        description=(
            "The refusal ground's wording by language (kk, ru, en), as the service version"
            " states it: a consumer can tell the applicant without a copy of the catalog"
        ),
    )


# Served as the AsyncAPI document (ServiceSpec.events).
EVENTS: dict[str, type[BaseModel]] = {event_type(name): RequestEventPayload for name in EVENT_NAMES}


class Described(Protocol):
    """What an event says about a request: a stored one, or one about to be written."""

    @property
    def id(self) -> UUID: ...
    @property
    def number(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def service_id(self) -> UUID: ...
    @property
    def service_version(self) -> int: ...
    @property
    def agency_id(self) -> UUID: ...
    @property
    def due_date(self) -> date: ...
    @property
    def version(self) -> int: ...
    @property
    def applicant_id(self) -> UUID: ...
    @property
    def reason_code(self) -> str | None: ...


def event_data(
    request: Described,
    *,
    previous_status: Status | None,
    occurred_at: datetime,
    comment: str | None = None,
    reason_text: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON `data` of a requests.request event about `request`."""
    return RequestEventPayload(
        id=request.id,
        number=request.number,
        status=Status(request.status),
        previous_status=previous_status,
        service_id=request.service_id,
        service_version=request.service_version,
        agency_id=request.agency_id,
        due_date=request.due_date,
        version=request.version,
        occurred_at=occurred_at,
        applicant_id=request.applicant_id,
        comment=comment,
        reason_code=request.reason_code,
        reason_text=reason_text,
    ).model_dump(mode="json")


async def publish(
    session: AsyncSession,
    request: ServiceRequest,
    name: str,
    *,
    previous_status: Status | None,
    occurred_at: datetime,
    comment: str | None = None,
    reason_text: dict[str, str] | None = None,
) -> None:
    """Queue the event in the caller's transaction, keyed by the request for per-request order."""
    await add_event(
        session,
        topic=TOPIC,
        key=str(request.id),
        type=event_type(name),
        source=SOURCE,
        data=event_data(
            request,
            previous_status=previous_status,
            occurred_at=occurred_at,
            comment=comment,
            reason_text=reason_text,
        ),
    )
