"""The events of a request's life, read back from the real broker: valid CloudEvents (parsed
by the cloudevents package), in order, with ids and statuses but no personal data or form."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
from aiokafka import AIOKafkaConsumer
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

if TYPE_CHECKING:
    from tests.conftest import Parties, World

PAYLOAD_FIELDS = {
    "id",
    "number",
    "status",
    "previous_status",
    "service_id",
    "service_version",
    "agency_id",
    "due_date",
    "version",
    "occurred_at",
    # For the notifications service: whom to tell, and the officer's own words.
    "applicant_id",
    "comment",
    "reason_code",
    "reason_text",
}
PERSONAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["iin", "given_name", "family_name", "address"],
    "properties": {
        "iin": {"type": "string", "pattern": "^[0-9]{12}$"},
        "given_name": {"type": "string"},
        "family_name": {"type": "string"},
        "address": {"type": "string"},
    },
}
PERSONAL_FORM = {
    "iin": "900101300127",
    "given_name": "Aigerim",
    "family_name": "Nurlanova",
    "address": "Baikonur, Abai avenue 7",
}
CORRECTED_FORM = {**PERSONAL_FORM, "address": "Baikonur, Korolev street 12"}


async def read_events(bootstrap: str, key: str, count: int, within: float = 30) -> list[Any]:
    """Every message of one request, from the start of the topic, as the broker holds them."""
    consumer = AIOKafkaConsumer(
        "requests.request",
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(within):
            while len(found) < count:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    found += [r for r in records if r.key == key.encode()]
        # Anything beyond `count` would be a duplicate the test must see.
        for records in (await consumer.getmany(timeout_ms=500)).values():
            found += [r for r in records if r.key == key.encode()]
    finally:
        await consumer.stop()
    return found


def parse(record: Any) -> BaseCloudEvent:
    headers = dict(record.headers)
    return from_binary(
        KafkaMessage(headers=headers, key=record.key, value=record.value), JSONFormat()
    )


async def test_a_whole_life_arrives_in_order_as_clean_cloudevents(
    client: httpx.AsyncClient, parties: Parties, world: World, kafka_bootstrap: str
) -> None:
    service_id = await world.service(parties.agency_id, form_schema=PERSONAL_SCHEMA)
    created = await client.post(
        "/api/v1/requests",
        json={"service_id": str(service_id), "form_data": PERSONAL_FORM},
        headers=parties.resident(),
    )
    assert created.status_code == 201
    request_id = created.json()["id"]
    steps: list[tuple[dict[str, str], str, dict[str, Any]]] = [
        (parties.officer(), "accept", {}),
        (parties.officer(), "request_info", {"comment": "Which street exactly?"}),
        (parties.resident(), "resubmit", {"form_data": CORRECTED_FORM}),
        (parties.officer(), "approve", {}),
        (parties.officer(), "complete", {"result": "Registered"}),
    ]
    for headers, action, fields in steps:
        response = await parties.act(request_id, headers, action, **fields)
        assert response.status_code == 200, response.text

    records = await read_events(kafka_bootstrap, request_id, count=6)
    events = [parse(r) for r in records]
    assert [e.get_type() for e in events] == [
        f"requests.request.{name}.v1"
        for name in (
            "submitted",
            "accepted",
            "info_requested",
            "resubmitted",
            "approved",
            "completed",
        )
    ]
    assert len({e.get_id() for e in events}) == 6
    statuses = ["submitted", "in_review", "needs_info", "in_review", "approved", "completed"]
    for index, event in enumerate(events):
        data = event.get_data()
        assert isinstance(data, dict)
        assert set(data) == PAYLOAD_FIELDS
        assert data["id"] == request_id
        assert data["status"] == statuses[index]
        assert data["previous_status"] == (statuses[index - 1] if index else None)
        assert data["version"] == index + 1
        assert data["agency_id"] == str(parties.agency_id)
        assert data["service_id"] == str(service_id)
        assert event.get_specversion() == "1.0"
        assert event.get_source() == "/requests"
        assert event.get_subject() == request_id
        assert event.get_datacontenttype() == "application/json"
        assert event.get_time() is not None
    asked = events[2].get_data()
    assert isinstance(asked, dict)
    assert asked["comment"] == "Which street exactly?"
    for record, event in zip(records, events, strict=True):
        raw = record.value + b"".join(value for _, value in record.headers)
        for secret in (*PERSONAL_FORM.values(), CORRECTED_FORM["address"]):
            assert secret.encode() not in raw
        # The applicant is named only by their opaque account id, for the notifications
        # service to know whom to tell.
        data = event.get_data()
        assert isinstance(data, dict)
        assert data["applicant_id"] == str(parties.resident_id)


async def test_rejection_and_cancellation_are_announced(
    client: httpx.AsyncClient, parties: Parties, kafka_bootstrap: str
) -> None:
    rejected = await parties.submit()
    await parties.act(rejected["id"], parties.officer(), "accept")
    await parties.act(
        rejected["id"], parties.officer(), "reject", reason_code="incomplete-documents"
    )
    cancelled = await parties.submit()
    await parties.act(cancelled["id"], parties.resident(), "cancel")

    rejected_events = [parse(r) for r in await read_events(kafka_bootstrap, rejected["id"], 3)]
    assert rejected_events[-1].get_type() == "requests.request.rejected.v1"
    # The ground travels with its wording, so a consumer without a copy of the catalog
    # can still tell the applicant why, in their language.
    refusal = rejected_events[-1].get_data()
    assert isinstance(refusal, dict)
    assert refusal["reason_code"] == "incomplete-documents"
    assert refusal["reason_text"] == {"kk": "...", "ru": "...", "en": "Incomplete"}
    accepted = rejected_events[1].get_data()
    assert isinstance(accepted, dict)
    assert accepted["reason_text"] is None
    cancelled_events = [parse(r) for r in await read_events(kafka_bootstrap, cancelled["id"], 2)]
    assert cancelled_events[-1].get_type() == "requests.request.cancelled.v1"
    data = cancelled_events[-1].get_data()
    assert isinstance(data, dict)
    assert (data["previous_status"], data["status"]) == ("submitted", "cancelled")
