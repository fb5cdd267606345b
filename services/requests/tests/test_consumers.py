"""The local copies of agencies and state services, fed through the real broker exactly as
the directory and catalog publish them: newer versions win, replays change nothing,
requests keep the version they were submitted under."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from service_requests.calendar import Calendar

if TYPE_CHECKING:
    from tests.conftest import Parties, World

TERM_2_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "minLength": 3}},
}


async def duplicate_count(client: httpx.AsyncClient) -> float:
    """Redeliveries the catalog consumer recognised and dropped, from /metrics."""
    metrics = (await client.get("/metrics")).text
    prefix = 'portal_events_consumed_total{group="requests.catalog.service",outcome="duplicate"}'
    for line in metrics.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_new_version_is_used_for_new_requests_and_old_ones_keep_theirs(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    old = await parties.submit()
    await world.service(
        parties.agency_id,
        parties.service_id,
        version=2,
        kind="updated",
        term=2,
        form_schema=TERM_2_SCHEMA,
        refusal_grounds=[{"code": "v2-only", "text": {"en": "New ground"}}],
    )
    new = await client.post(
        "/api/v1/requests",
        json={"service_id": str(parties.service_id), "form_data": {"reason": "moving in"}},
        headers=parties.resident(),
    )
    assert new.status_code == 201, new.text
    assert new.json()["service_version"] == 2
    # The old request is still judged by version 1: its form and refusal grounds.
    await parties.act(old["id"], parties.officer(), "accept")
    refused = await parties.act(old["id"], parties.officer(), "reject", reason_code="v2-only")
    assert refused.status_code == 422
    await parties.act(old["id"], parties.officer(), "request_info", comment="Clarify")
    resubmitted = await parties.act(
        old["id"], parties.resident(), "resubmit", form_data=parties.good_form
    )
    assert resubmitted.status_code == 200


async def test_older_versions_and_replays_change_nothing(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    await world.service(parties.agency_id, parties.service_id, version=3, term=2)
    # Version 2 arrives late (say, replayed from the start of the topic): it is ignored.
    await world.service(
        parties.agency_id,
        parties.service_id,
        version=2,
        status="withdrawn",
        kind="withdrawn",
        wait=False,
    )
    await world.consumed(world.sent[-1])
    # The same event delivered again (same ce_id) is dropped as a duplicate.
    duplicates = await duplicate_count(client)
    replayed = world.sent[-1]
    await world.producer.send_and_wait(
        "catalog.service",
        value=replayed.value(),
        key=replayed.subject.encode(),
        headers=replayed.headers(),
    )
    async with asyncio.timeout(30):
        while await duplicate_count(client) == duplicates:
            await asyncio.sleep(0.05)
    created = await parties.submit()
    assert created["service_version"] == 3


async def test_a_withdrawn_service_takes_no_applications_until_republished(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    await world.service(
        parties.agency_id, parties.service_id, version=2, status="withdrawn", kind="withdrawn"
    )
    refused = await client.post(
        "/api/v1/requests",
        json={"service_id": str(parties.service_id), "form_data": parties.good_form},
        headers=parties.resident(),
    )
    assert refused.status_code == 422
    await world.service(parties.agency_id, parties.service_id, version=3)
    assert (await parties.submit())["service_version"] == 3


async def test_the_agency_time_zone_from_the_directory_sets_the_local_date(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    far_east = await world.agency(timezone="Pacific/Kiritimati")  # UTC+14
    service_id = await world.service(far_east, term=1)
    before = datetime.now(UTC)
    created = await client.post(
        "/api/v1/requests",
        json={"service_id": str(service_id), "form_data": parties.good_form},
        headers=parties.resident(),
    )
    after = datetime.now(UTC)
    expected = {Calendar().due_date(t, 1, "Pacific/Kiritimati") for t in (before, after)}
    assert created.json()["due_date"] in {d.isoformat() for d in expected}
    # An older registration replayed later does not move the agency back to Almaty.
    await world.agency(far_east, timezone="Asia/Almaty", version=1, kind="registered")
    await world.agency(far_east, timezone="Pacific/Kiritimati", version=2, kind="updated")
    await world.agency(far_east, timezone="Asia/Almaty", version=1, kind="updated")
    await world.consumed(world.sent[-1])
    again = await client.post(
        "/api/v1/requests",
        json={"service_id": str(service_id), "form_data": parties.good_form},
        headers=parties.resident(),
    )
    expected = {Calendar().due_date(datetime.now(UTC), 1, "Pacific/Kiritimati")}
    assert again.json()["due_date"] in {d.isoformat() for d in expected}
