"""What the catalog consumes: `directory.agency` events, kept as the local agency copy.

The copy is what "the responsible agency must exist and be active" is checked
against; an agency that becomes inactive has its published services withdrawn
in the same transaction, with their withdrawn events in the outbox.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from catalog import service
from portal_shared.app import ConsumerSpec
from portal_shared.events import CloudEvent, Handler

AGENCY_TOPIC = "directory.agency"
GROUP_ID = "catalog.directory.agency"


def _handler(kind: Literal["registered", "updated", "deactivated"]) -> Handler:
    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await service.apply_agency(session, event.data, kind=kind)

    handle.__name__ = f"on_agency_{kind}"
    return handle


AGENCY_CONSUMER = ConsumerSpec(
    group_id=GROUP_ID,
    topics=[AGENCY_TOPIC],
    handlers={
        f"{AGENCY_TOPIC}.registered.v1": _handler("registered"),
        f"{AGENCY_TOPIC}.updated.v1": _handler("updated"),
        f"{AGENCY_TOPIC}.deactivated.v1": _handler("deactivated"),
    },
)
