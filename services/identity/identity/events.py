"""What the identity service publishes: its topic and event types."""

from __future__ import annotations

TOPIC = "identity.user"
SOURCE = "/identity"


def event_type(name: str) -> str:
    """`identity.user.<name>.v1`, the contract's naming of event types."""
    return f"{TOPIC}.{name}.v1"
