"""What the catalog service publishes: its topic, event types and their payload.

Every `catalog.service.*` event carries the published version as
`GET /api/v1/services/{id}` returns it, form schema and refusal grounds
included, so the requests service validates applications from its own copy.
"""

from __future__ import annotations

from pydantic import BaseModel

from catalog.schemas import StateServiceRead

TOPIC = "catalog.service"
SOURCE = "/catalog"
# published: a service becomes open to applications (first time, or again after a
# withdrawal); updated: a new version replaces the published one; withdrawn: closed.
NAMES = ("published", "updated", "withdrawn")


def event_type(name: str) -> str:
    """`catalog.service.<name>.v1`, the contract's naming of event types."""
    return f"{TOPIC}.{name}.v1"


class StateServiceEvent(StateServiceRead):
    """The `data` of every catalog.service event: the published version of the service."""


EVENTS: dict[str, type[BaseModel]] = {event_type(n): StateServiceEvent for n in NAMES}
