"""A poison event goes to the dead-letter topic and the partition behind it keeps flowing.

The requests service's worker consumes `catalog.service`. On one key (so one
partition) the test puts a message that is not a CloudEvent, then a published
service whose form schema is not a JSON Schema (its handler refuses it), then a
good version of the same service; other good services follow on other keys.
"""

from __future__ import annotations

import uuid

from tests.faults.harness import (
    Portal,
    agency_event,
    count,
    eventually,
    header,
    produce,
    provision,
    read_topic,
    service_event,
)


async def test_poison_events_are_dead_lettered_and_later_events_applied(portal: Portal) -> None:
    await provision(portal.bootstrap)
    await portal.migrate("requests")
    # Two attempts are enough to show the retry and keep the test short.
    await portal.start("requests", "worker", CONSUMER_MAX_ATTEMPTS="2")
    db = portal.database_url("requests")

    agency_id = uuid.uuid4()
    await produce(portal.bootstrap, "directory.agency", [agency_event(agency_id)])

    poisoned = uuid.uuid4()
    key = str(poisoned).encode()
    not_a_cloudevent = (
        key,
        b"{this is not json",
        [
            ("ce_id", uuid.uuid4().hex.encode()),
            ("ce_specversion", b"1.0"),
            ("ce_source", b"/catalog"),
            ("ce_type", b"catalog.service.published.v1"),
        ],
    )
    broken_schema = service_event(poisoned, agency_id, version=1, form_schema={"type": 12})
    repaired = service_event(poisoned, agency_id, version=2)
    others = [service_event(uuid.uuid4(), agency_id) for _ in range(5)]
    good = [repaired, *others]
    await produce(
        portal.bootstrap, "catalog.service", [broken_schema, *good], raw=[not_a_cloudevent]
    )
    sent = 2 + len(good)

    async def all_good_applied() -> bool:
        return await count(db, "SELECT count(*) FROM offerings") == len(good)

    await eventually(all_good_applied, what="the good services after the poison are applied")

    dead = await read_topic(portal.bootstrap, "catalog.service.dlq", at_least=2)
    assert len(dead) == 2, "each poison event is dead-lettered exactly once"
    assert sorted(header(r, "dlq_error_type") for r in dead) == ["MalformedEvent", "SchemaError"]
    for record in dead:
        assert record.key == key
        assert header(record, "dlq_original_topic") == "catalog.service"
        assert header(record, "dlq_consumer_group") == portal.group_prefix + (
            "requests.catalog.service"
        )
        assert header(record, "dlq_error")
    schema_error = next(r for r in dead if header(r, "dlq_error_type") == "SchemaError")
    assert header(schema_error, "dlq_attempts") == "2"
    assert header(schema_error, "ce_id") == broken_schema.id

    # The service behind the poison is open in its repaired version only, and every good
    # event is recorded once: sent = dead-lettered + applied.
    versions = await count(
        db, "SELECT count(*) FROM offering_versions WHERE service_id = $1", poisoned
    )
    published = await count(db, "SELECT published_version FROM offerings WHERE id = $1", poisoned)
    assert (versions, published) == (1, 2)
    applied = await count(
        db,
        "SELECT count(*) FROM processed_events WHERE consumer = $1",
        portal.group_prefix + "requests.catalog.service",
    )
    assert applied == len(good)
    assert sent == len(dead) + applied
