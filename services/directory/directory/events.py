"""What the directory service publishes: its topic, event types and their payload.

Every event carries the whole public agency (the JSON of GET /api/v1/agencies/{id}),
keyed by the agency's id, so a consumer can keep a copy and apply an event only
when its `version` is newer than the copy's.
"""

from __future__ import annotations

from pydantic import BaseModel

from directory.schemas import AgencyRead

TOPIC = "directory.agency"
SOURCE = "/directory"


def event_type(name: str) -> str:
    """`directory.agency.<name>.v1`, the contract's naming of event types."""
    return f"{TOPIC}.{name}.v1"


REGISTERED = event_type("registered")
UPDATED = event_type("updated")
DEACTIVATED = event_type("deactivated")


class AgencyEvent(AgencyRead):
    """The payload of every directory.agency event: the public agency at that version."""


EVENTS: dict[str, type[BaseModel]] = {
    REGISTERED: AgencyEvent,
    UPDATED: AgencyEvent,
    DEACTIVATED: AgencyEvent,
}
