"""What the requests service publishes: its topic, event types and their payload."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel
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


# Served as the AsyncAPI document (ServiceSpec.events).
EVENTS: dict[str, type[BaseModel]] = {event_type(name): RequestEventData for name in EVENT_NAMES}


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


def event_data(
    request: Described, *, previous_status: Status | None, occurred_at: datetime
) -> dict[str, Any]:
    """The JSON `data` of a requests.request event about `request`."""
    return RequestEventData(
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
    ).model_dump(mode="json")


async def publish(
    session: AsyncSession,
    request: ServiceRequest,
    name: str,
    *,
    previous_status: Status | None,
    occurred_at: datetime,
) -> None:
    """Queue the event in the caller's transaction, keyed by the request for per-request order."""
    await add_event(
        session,
        topic=TOPIC,
        key=str(request.id),
        type=event_type(name),
        source=SOURCE,
        data=event_data(request, previous_status=previous_status, occurred_at=occurred_at),
    )
