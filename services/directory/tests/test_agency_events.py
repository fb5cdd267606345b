"""Directory events on the real broker: valid CloudEvents, whole agency in data, in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

from directory.events import TOPIC
from directory.settings import DirectorySettings

Register = Callable[..., Awaitable[dict[str, Any]]]


async def events_for(
    settings: DirectorySettings, key: str, count: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read the topic from the start until `count` events with this key arrived, then a
    little longer, so an extra (duplicate) event would be seen too."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    found += [r for r in records if r.key == key.encode()]
        for records in (await consumer.getmany(timeout_ms=500)).values():
            found += [r for r in records if r.key == key.encode()]
    finally:
        await consumer.stop()
    return sorted(found, key=lambda r: r.offset)


async def test_each_change_arrives_as_a_cloudevent_with_the_whole_agency(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    register: Register,
    settings: DirectorySettings,
) -> None:
    code = f"BKR-EV{uuid.uuid4().hex[:6].upper()}"
    registered = await register(code)
    url = f"/api/v1/agencies/{registered['id']}"
    updated = await client.patch(
        url, json={"address": "Baikonur, Korolev street, 1"}, headers={**admin, "If-Match": '"1"'}
    )
    deactivated = await client.post(f"{url}/deactivate", headers=admin)
    expected = [
        ("directory.agency.registered.v1", registered),
        ("directory.agency.updated.v1", updated.json()),
        ("directory.agency.deactivated.v1", deactivated.json()),
    ]

    records = await events_for(settings, registered["id"], 3)

    assert len(records) == 3, "one event per change, none twice"
    assert len({r.partition for r in records}) == 1, "one key, one partition: kept in order"
    versions = []
    for record, (event_type, agency) in zip(records, expected, strict=True):
        headers = dict(record.headers)
        assert headers["content-type"] == b"application/json"
        event = from_binary_event(KafkaMessage(headers=headers, key=record.key, value=record.value))
        assert event.get_specversion() == "1.0"
        assert event.get_type() == event_type
        assert event.get_source() == "/directory"
        assert event.get_subject() == registered["id"]
        assert event.get_time() is not None
        assert event.get_data() == agency, "data is the agency exactly as GET returned it"
        versions.append(agency["version"])
    assert versions == [1, 2, 3]
    assert len({dict(r.headers)["ce_id"] for r in records}) == 3


async def test_cascade_sends_children_before_their_parent(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    register: Register,
    settings: DirectorySettings,
) -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    parent = await register(f"KZ-P{suffix}", kind="ministry")
    child = await register(f"BKR-C{suffix}", parent_id=parent["id"])
    await client.post(
        f"/api/v1/agencies/{parent['id']}/deactivate", json={"cascade": True}, headers=admin
    )
    parent_events = await events_for(settings, parent["id"], 2)
    child_events = await events_for(settings, child["id"], 2)
    last = [dict(events[-1].headers) for events in (parent_events, child_events)]
    assert [h["ce_type"] for h in last] == [b"directory.agency.deactivated.v1"] * 2
    # A consumer never holds an inactive parent with an active child.
    assert last[1]["ce_time"] <= last[0]["ce_time"]


async def test_asyncapi_documents_the_three_events(client: httpx.AsyncClient) -> None:
    document = (await client.get("/asyncapi.json")).json()
    messages = document["channels"]["directory_agency"]["messages"]
    assert set(messages) == {
        "directory_agency_registered_v1",
        "directory_agency_updated_v1",
        "directory_agency_deactivated_v1",
    }
    payload = document["components"]["schemas"]["AgencyEvent"]
    assert {"id", "code", "name", "bin", "version", "status"} <= set(payload["properties"])
