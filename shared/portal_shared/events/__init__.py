"""Events: the CloudEvents envelope, the outbox and its relay, the idempotent consumer, topics."""

from portal_shared.events.consumer import BatchHandler, EventConsumer, Handler
from portal_shared.events.envelope import CloudEvent, MalformedEvent
from portal_shared.events.outbox import add_event
from portal_shared.events.relay import OutboxRelay, make_producer
from portal_shared.events.topics import CONTRACT_TOPICS, dlq, ensure_topics, with_dead_letters

__all__ = [
    "CONTRACT_TOPICS",
    "BatchHandler",
    "CloudEvent",
    "EventConsumer",
    "Handler",
    "MalformedEvent",
    "OutboxRelay",
    "add_event",
    "dlq",
    "ensure_topics",
    "make_producer",
    "with_dead_letters",
]
