"""The relay or a consumer killed with SIGKILL mid-stream, then restarted.

The directory serves HTTP without a relay, and its relay runs in a `worker` of its
own; the catalog's `worker` consumes `directory.agency` into its agency copy. A
process killed this way runs no shutdown code: whatever it had published but not
marked, or applied but not committed, is done again after the restart, and the
outbox and the processed-events table must make that change nothing.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx

from portal_testing.service import TestIssuer
from tests.faults.harness import (
    Portal,
    agency_event,
    count,
    eventually,
    header,
    produce,
    provision,
    read_topic,
)

AGENCY_GROUP = "catalog.directory.agency"


def registration(i: int) -> dict[str, object]:
    return {
        "code": f"BKR-KILL-{i:04d}",
        "name": {"kk": f"Агенттік {i}", "ru": f"Агентство {i}", "en": f"Agency {i}"},
        "kind": "department",
        "bin": "140740190074",
        "city": "Baikonur",
        "address": "Baikonur, Gagarin street, 12",
        "timezone": "Asia/Qyzylorda",
    }


async def test_relay_killed_mid_stream_loses_and_repeats_nothing(
    portal: Portal, fault_issuer: TestIssuer
) -> None:
    total, concurrency = 300, 10
    await provision(portal.bootstrap)
    await portal.migrate("directory", "catalog")
    directory, relay, _ = await asyncio.gather(
        portal.start("directory", "serve", RUN_RELAY="false"),
        portal.start("directory", "worker"),
        portal.start("catalog", "worker"),
    )
    directory_db, catalog_db = portal.database_url("directory"), portal.database_url("catalog")
    admin = fault_issuer.headers(roles=["admin"], ttl=600)
    statuses: list[int] = []

    async def register_all() -> None:
        pending = iter(range(total))
        async with httpx.AsyncClient(base_url=directory.base_url, timeout=30.0) as client:

            async def admin_session() -> None:
                for i in pending:
                    response = await client.post(
                        "/api/v1/agencies", json=registration(i), headers=admin
                    )
                    statuses.append(response.status_code)

            await asyncio.gather(*(admin_session() for _ in range(concurrency)))

    registering = asyncio.create_task(register_all())
    published = "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
    unsent = "SELECT count(*) FROM outbox WHERE published_at IS NULL"

    async def relay_under_way() -> bool:
        return await count(directory_db, published) >= 20

    await eventually(relay_under_way, what="the relay publishes the first registrations")
    relay.kill()
    assert not registering.done(), "the relay must die while registrations still arrive"
    await registering
    assert (len(statuses), statuses.count(201)) == (total, total)

    # With the relay dead, what was registered after the kill waits in the outbox.
    stranded = await count(directory_db, unsent)
    assert stranded > 0
    await asyncio.sleep(1.0)
    assert await count(directory_db, unsent) == stranded

    relay.start()
    await relay.wait_ready()

    async def all_copied() -> bool:
        return await count(catalog_db, "SELECT count(*) FROM agencies") == total

    await eventually(all_copied, what="every registered agency reaches the catalog")
    assert await count(directory_db, unsent) == 0

    records = await read_topic(portal.bootstrap, "directory.agency", at_least=total)
    delivered = {header(r, "ce_id") for r in records}
    assert len(delivered) == total, "every registration's event is on the topic"
    applied = await count(
        catalog_db,
        "SELECT count(*) FROM processed_events WHERE consumer = $1",
        portal.group_prefix + AGENCY_GROUP,
    )
    assert applied == total
    assert await count(catalog_db, "SELECT count(*) FROM agencies WHERE version = 1") == total


async def test_consumer_killed_mid_stream_applies_every_event_once(portal: Portal) -> None:
    total = 1000
    await provision(portal.bootstrap)
    await portal.migrate("catalog")
    consumer = await portal.start("catalog", "worker")
    catalog_db = portal.database_url("catalog")
    events = [agency_event(uuid.uuid4()) for _ in range(total)]
    await produce(portal.bootstrap, "directory.agency", events)
    copied = "SELECT count(*) FROM agencies"

    async def under_way() -> bool:
        return await count(catalog_db, copied) >= 100

    await eventually(under_way, what="the consumer applies the first events")
    consumer.kill()
    at_kill = await count(catalog_db, copied)
    assert at_kill < total, "the consumer must die with events still to apply"
    await asyncio.sleep(1.0)
    assert await count(catalog_db, copied) == at_kill

    consumer.start()
    await consumer.wait_ready()

    async def all_copied() -> bool:
        return await count(catalog_db, copied) == total

    await eventually(all_copied, within=120, what="every agency event is applied")
    await asyncio.sleep(1.0)  # a redelivery still in flight would show now
    recorded = await count(
        catalog_db,
        "SELECT count(*) FROM processed_events WHERE consumer = $1",
        portal.group_prefix + AGENCY_GROUP,
    )
    assert recorded == total
    ids = {str(e.data["id"]) for e in events}
    rows = await count(
        catalog_db, "SELECT count(*) FROM agencies WHERE id::text = ANY($1::text[])", list(ids)
    )
    assert rows == total
