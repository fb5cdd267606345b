"""The contract's topics and their explicit provisioning.

Brokers that auto-create topics pick their own partition count, so every
process creates the topics it produces to or consumes from, with the count
configured here, before it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = structlog.get_logger(__name__)

# One topic per aggregate, each with a dead-letter topic (CONTRACT.md, "Events"), and
# identity.token: the access tokens revoked before their expiry (portal_shared.revocation),
# which every resource server and the gateway read.
CONTRACT_TOPICS = (
    "identity.user",
    "identity.token",
    "directory.agency",
    "catalog.service",
    "requests.request",
)


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


def with_dead_letters(topics: Iterable[str]) -> list[str]:
    out: list[str] = []
    for topic in topics:
        out += [topic, dlq(topic)]
    return out


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = 1,
    attempts: int = 30,
) -> None:
    """Create the topics that do not exist yet; retry while the broker is starting."""
    wanted = sorted(set(topics))
    for attempt in range(1, attempts + 1):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t not in existing]
            if missing:
                # Another process may create them first: the goal is reached all the same.
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [NewTopic(t, partitions, replication_factor) for t in missing]
                    )
                log.info("topics_created", topics=missing, partitions=partitions)
            return
        except (KafkaError, OSError) as exc:
            if attempt == attempts:
                raise
            log.warning("topics_retry", attempt=attempt, error=str(exc))
            await asyncio.sleep(min(0.2 * attempt, 2.0))
        finally:
            await admin.close()
