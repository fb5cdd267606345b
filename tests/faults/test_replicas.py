"""Two consumer replicas in one group, one killed: the other takes over its partitions.

Two catalog `worker` processes share the `catalog.directory.agency` group. One is
SIGKILLed while agency events stream in; once the broker notices (the session
timeout, 3 s here) the survivor owns every partition, and every event, before and
after the kill, is applied exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from tests.faults.harness import Portal, agency_event, count, eventually, produce, provision

AGENCY_GROUP = "catalog.directory.agency"


async def group_members(bootstrap: str, group: str) -> int:
    """How many consumers the broker counts in `group` once it is stable (0 while not)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses: list[Any] = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    _, _, state, _, _, members = responses[0].groups[0]
    return len(members) if state == "Stable" else 0


async def test_survivor_takes_over_when_a_replica_is_killed(portal: Portal) -> None:
    warm_up, stream, batch = 100, 1000, 50
    total = warm_up + stream
    await provision(portal.bootstrap)
    await portal.migrate("catalog")
    doomed, survivor = await asyncio.gather(
        portal.start("catalog", "worker", label="-a"), portal.start("catalog", "worker", label="-b")
    )
    catalog_db = portal.database_url("catalog")
    group = portal.group_prefix + AGENCY_GROUP
    copied = "SELECT count(*) FROM agencies"

    async def both_members() -> bool:
        return await group_members(portal.bootstrap, group) == 2

    await eventually(both_members, what="both replicas join the consumer group")
    await produce(
        portal.bootstrap, "directory.agency", [agency_event(uuid.uuid4()) for _ in range(warm_up)]
    )

    async def warmed_up() -> bool:
        return await count(catalog_db, copied) == warm_up

    await eventually(warmed_up, what="the two replicas apply the first events")

    async def stream_events() -> None:
        for _ in range(stream // batch):
            events = [agency_event(uuid.uuid4()) for _ in range(batch)]
            await produce(portal.bootstrap, "directory.agency", events)
            await asyncio.sleep(0.1)

    streaming = asyncio.create_task(stream_events())

    async def under_way() -> bool:
        return await count(catalog_db, copied) >= warm_up + 200

    await eventually(under_way, what="the stream is being applied")
    doomed.kill()
    assert await count(catalog_db, copied) < total, "a replica must die mid-stream"
    await streaming

    async def survivor_alone() -> bool:
        return await group_members(portal.bootstrap, group) == 1

    await eventually(survivor_alone, what="the group rebalances onto the survivor")

    async def all_copied() -> bool:
        return await count(catalog_db, copied) == total

    await eventually(all_copied, what="the survivor applies every event")
    await asyncio.sleep(1.0)  # a redelivery still in flight would show now
    assert survivor.alive()
    assert not doomed.alive()
    recorded = await count(
        catalog_db, "SELECT count(*) FROM processed_events WHERE consumer = $1", group
    )
    assert (recorded, await count(catalog_db, copied)) == (total, total)
