"""What the requests service publishes: its topic and event types."""

from __future__ import annotations

TOPIC = "requests.request"
SOURCE = "/requests"


def event_type(name: str) -> str:
    """`requests.request.<name>.v1`, the contract's naming of event types."""
    return f"{TOPIC}.{name}.v1"
