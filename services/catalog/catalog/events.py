"""What the catalog service publishes: its topic and event types."""

from __future__ import annotations

TOPIC = "catalog.service"
SOURCE = "/catalog"


def event_type(name: str) -> str:
    """`catalog.service.<name>.v1`, the contract's naming of event types."""
    return f"{TOPIC}.{name}.v1"
