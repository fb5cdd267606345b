"""What the directory service publishes: its topic and event types."""

from __future__ import annotations

TOPIC = "directory.agency"
SOURCE = "/directory"


def event_type(name: str) -> str:
    """`directory.agency.<name>.v1`, the contract's naming of event types."""
    return f"{TOPIC}.{name}.v1"
