"""What the identity service consumes: directory.agency events, into the local agency copy."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from identity import service
from portal_shared.app import ConsumerSpec
from portal_shared.events import CloudEvent

AGENCY_TOPIC = "directory.agency"


async def on_agency(session: AsyncSession, event: CloudEvent) -> None:
    await service.apply_agency_event(session, event)


AGENCIES = ConsumerSpec(
    group_id=f"identity.{AGENCY_TOPIC}",
    topics=[AGENCY_TOPIC],
    handlers={
        f"{AGENCY_TOPIC}.{name}.v1": on_agency for name in ("registered", "updated", "deactivated")
    },
)
