"""API10:2023 Unsafe consumption of APIs: what the services consume from each other (Kafka
events) is not trusted. A malformed event, or one whose data breaks the payload's shape,
goes to the dead-letter topic with the error in its headers, changes nothing, and does not
hold up the events behind it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from portal_shared.events import CloudEvent
from tests.fuzz.bodies import agency_body, service_body
from tests.fuzz.portal import GROUP_PREFIX, Portal, World

TOPIC = "directory.agency"
# Every consumer of the agencies' topic: each must dead-letter the broken events itself.
CONSUMERS = {f"{GROUP_PREFIX}{name}.{TOPIC}" for name in ("identity", "catalog", "requests")}


def agency_event(agency_id: str, **data: Any) -> CloudEvent:
    body = {
        **agency_body(f"BKR-EV-{agency_id[:6].upper()}"),
        "id": agency_id,
        "status": "active",
        "version": 1,
        "parent_id": None,
        "working_hours": {},
        **data,
    }
    return CloudEvent(
        type="directory.agency.registered.v1", source="/directory", subject=agency_id, data=body
    )


async def dead_letters(bootstrap: str, keys: set[bytes]) -> dict[bytes, set[str]]:
    """Which consumer groups dead-lettered each of `keys`, read from the start of the DLQ."""
    consumer = AIOKafkaConsumer(
        f"{TOPIC}.dlq", bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: dict[bytes, set[str]] = {key: set() for key in keys}
    try:
        async with asyncio.timeout(60):
            while any(found[key] != CONSUMERS for key in keys):
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        if record.key in found:
                            headers = {k: v.decode() for k, v in record.headers}
                            assert headers["dlq_error"], "a dead letter without its error"
                            found[record.key].add(headers["dlq_consumer_group"])
    finally:
        await consumer.stop()
    return found


async def test_malformed_events_are_dead_lettered_and_the_stream_goes_on(
    portal: Portal, world: World, people: dict[str, dict[str, str]]
) -> None:
    bad_id, later_id = str(uuid.uuid4()), str(uuid.uuid4())
    good = agency_event(bad_id)
    malformed: dict[bytes, tuple[bytes, list[tuple[str, bytes]]]] = {
        # Not JSON at all.
        b"not-json-" + bad_id.encode(): (b"{not json", good.headers()),
        # No CloudEvents headers.
        b"no-headers-" + bad_id.encode(): (good.value(), []),
        # A well-formed envelope whose data breaks the payload's shape.
        bad_id.encode(): (
            agency_event(bad_id, id="not-a-uuid", version="x").value(),
            good.headers(),
        ),
    }
    producer = AIOKafkaProducer(bootstrap_servers=portal.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, (value, headers) in malformed.items():
            await producer.send_and_wait(TOPIC, value=value, key=key, headers=headers)
        later = agency_event(later_id)
        # Same partition as the broken one (same key), so it waits behind it.
        await producer.send_and_wait(
            TOPIC, value=later.value(), key=bad_id.encode(), headers=later.headers()
        )
    finally:
        await producer.stop()

    found = await dead_letters(portal.kafka_bootstrap, set(malformed))
    assert all(groups == CONSUMERS for groups in found.values()), found

    def create(agency_id: str) -> httpx.Response:
        with portal.client("catalog") as catalog:
            return catalog.post(
                "/api/v1/services",
                json=service_body(f"dlq-{agency_id[:8]}", agency_id),
                headers=people["admin"],
            )

    # The event behind the broken ones was applied: the catalog knows that agency now...
    async with asyncio.timeout(60):
        while (await asyncio.to_thread(create, later_id)).status_code != 201:
            await asyncio.sleep(0.1)
    # ...and nothing of the broken one was: it never became an agency the catalog accepts.
    refused = await asyncio.to_thread(create, bad_id)
    assert refused.status_code == 422
    assert "agency" in refused.json()["type"]
