"""Events really flow between services over the broker: the directory's agencies reach the
catalog's and the requests service's local copies, the catalog's published services reach
the requests service with their form schemas, a deactivated agency withdraws its services
end to end, and replaying the same events changes nothing."""

# ruff: noqa: RUF001  (Kazakh and Russian texts)

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from sqlalchemy import text

from portal_testing.service import TestIssuer, client_for

WAIT = 30.0


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll until `check` returns something truthy; fail naming `what` after WAIT seconds."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    async with app.state.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


def agency_body(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": {
            "kk": "Байқоңыр қаласының тіркеу бөлімі",
            "ru": "Отдел регистрации города Байконыр",
            "en": "Registration office of Baikonur",
        },
        "kind": "department",
        "bin": "140740190074",
        "city": "Baikonur",
        "address": "Baikonur, Korolev street 5",
        "timezone": "Asia/Qyzylorda",
        "working_hours": {"mon": {"open": "09:00", "close": "18:00", "breaks": []}},
        "contacts": {"phone": "+7 33622 4 11 00"},
    }


def service_body(code: str, agency_id: str) -> dict[str, Any]:
    title = {"kk": "Толық аты", "ru": "Полное имя", "en": "Full name"}
    return {
        "code": code,
        "name": {
            "kk": "Мекенжай анықтамасы",
            "ru": "Адресная справка",
            "en": "Address certificate",
        },
        "description": {
            "kk": "Анықтама беру",
            "ru": "Выдача справки",
            "en": "Issue of a certificate",
        },
        "agency_id": agency_id,
        "term_working_days": 3,
        "fee": {"amount": 0, "currency": "KZT"},
        "result": {"kk": "Анықтама", "ru": "Справка", "en": "Certificate"},
        "required_documents": [],
        "refusal_grounds": [
            {
                "code": "false-documents",
                "text": {
                    "kk": "Жалған құжаттар",
                    "ru": "Ложные документы",
                    "en": "False documents",
                },
            }
        ],
        "channels": ["portal"],
        "form_schema": {
            "type": "object",
            "required": ["full_name"],
            "additionalProperties": False,
            "properties": {"full_name": {"type": "string", "minLength": 2, "x-title": title}},
        },
    }


async def test_agency_service_and_withdrawal_flow_between_services(
    directory_app: FastAPI,
    catalog_app: FastAPI,
    requests_app: FastAPI,
    portal_issuer: TestIssuer,
    kafka_bootstrap: str,
) -> None:
    admin = portal_issuer.headers(roles=["admin"])
    resident = portal_issuer.headers(roles=["resident"])
    code = f"BKR-FLOW-{uuid.uuid4().hex[:6].upper()}"
    async with (
        client_for(directory_app) as directory,
        client_for(catalog_app) as catalog,
        client_for(requests_app) as requests,
    ):
        created = await directory.post("/api/v1/agencies", json=agency_body(code), headers=admin)
        assert created.status_code == 201, created.text
        agency = created.json()

        # The agency reaches both local copies over the broker.
        await eventually(
            lambda: scalar(catalog_app, "SELECT 1 FROM agencies WHERE id = :id", id=agency["id"]),
            "the catalog's copy of the agency",
        )
        await eventually(
            lambda: scalar(
                requests_app, "SELECT timezone FROM agencies WHERE id = :id", id=agency["id"]
            ),
            "the requests service's copy of the agency",
        )

        # The catalog accepts a service for it (it checks its own copy), and publishes it.
        draft = await catalog.post(
            "/api/v1/services", json=service_body(code.lower(), agency["id"]), headers=admin
        )
        assert draft.status_code == 201, draft.text
        service_id = draft.json()["id"]
        published = await catalog.post(f"/api/v1/services/{service_id}/publish", headers=admin)
        assert published.status_code == 200, published.text

        # The published version, form schema included, reaches the requests service...
        schema = await eventually(
            lambda: scalar(
                requests_app,
                "SELECT form_schema FROM offering_versions WHERE service_id = :id",
                id=service_id,
            ),
            "the requests service's copy of the published service",
        )
        assert schema["required"] == ["full_name"]
        # ...which validates an application against it and pins the version.
        bad = await requests.post(
            "/api/v1/requests",
            json={"service_id": service_id, "form_data": {"full_name": 7}},
            headers=resident,
        )
        assert bad.status_code == 422
        good = await requests.post(
            "/api/v1/requests",
            json={"service_id": service_id, "form_data": {"full_name": "Aigerim Sarsenova"}},
            headers=resident,
        )
        assert good.status_code == 201, good.text
        assert good.json()["service_version"] == 1
        assert good.json()["agency_id"] == agency["id"]

        # Deactivating the agency withdraws its services in the catalog, and the requests
        # service stops taking applications for them.
        deactivated = await directory.post(
            f"/api/v1/agencies/{agency['id']}/deactivate", json={"cascade": False}, headers=admin
        )
        assert deactivated.status_code == 200, deactivated.text

        async def withdrawn_in_catalog() -> bool:
            response = await catalog.get(f"/api/v1/services/{service_id}", headers=admin)
            return bool(response.json().get("status") == "withdrawn")

        await eventually(withdrawn_in_catalog, "the catalog to withdraw the service")

        async def refused() -> bool:
            response = await requests.post(
                "/api/v1/requests",
                json={"service_id": service_id, "form_data": {"full_name": "Aigerim Sarsenova"}},
                headers=resident,
            )
            return response.status_code == 422

        await eventually(refused, "the requests service to refuse the withdrawn service")
        assert await _replay_changes_nothing(
            kafka_bootstrap, agency["id"], catalog_app, requests_app
        )


async def _caught_up(bootstrap: str, group: str, topic: str) -> None:
    """Wait until `group` has committed past the end of `topic`: it has seen the replays."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await probe.start()
    await admin.start()
    try:
        await probe.topics()  # loads the cluster metadata the partition list comes from
        partitions = [TopicPartition(topic, p) for p in probe.partitions_for_topic(topic) or []]
        assert partitions, f"no partitions known for {topic}"
        ends = await probe.end_offsets(partitions)

        async def committed() -> bool:
            offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
            return all(
                tp in offsets and offsets[tp].offset >= end for tp, end in ends.items() if end
            )

        await eventually(committed, f"{group} to consume the replayed events")
    finally:
        await probe.stop()
        await admin.close()


GROUPS = ("flow.catalog.directory.agency", "flow.requests.directory.agency")


async def _state(
    catalog_app: FastAPI, requests_app: FastAPI, agency_id: str, event_ids: list[str]
) -> tuple[Any, ...]:
    """What the agency's events did: both copies, the catalog's events caused by it, and
    how many times each consumer recorded those events as applied."""
    applied = "SELECT count(*) FROM processed_events WHERE event_id = ANY(:ids)"
    return (
        await scalar(
            catalog_app, "SELECT status || version FROM agencies WHERE id = :id", id=agency_id
        ),
        await scalar(
            requests_app, "SELECT status || version FROM agencies WHERE id = :id", id=agency_id
        ),
        await scalar(catalog_app, "SELECT count(*) FROM outbox"),
        await scalar(catalog_app, applied, ids=event_ids),
        await scalar(requests_app, applied, ids=event_ids),
    )


async def _agency_events(bootstrap: str, agency_id: str) -> list[Any]:
    """Every record of the agency on its topic, read to the end of each partition."""
    consumer = AIOKafkaConsumer(
        "directory.agency", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Any] = []
    try:
        await consumer.topics()
        partitions = [
            TopicPartition("directory.agency", p)
            for p in consumer.partitions_for_topic("directory.agency") or []
        ]
        ends = await consumer.end_offsets(partitions)

        async def read_to_end() -> bool:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                found.extend(r for r in records if r.key == agency_id.encode())
            return all(
                await asyncio.gather(*(_reached(consumer, tp, end) for tp, end in ends.items()))
            )

        await eventually(read_to_end, "the end of directory.agency")
    finally:
        await consumer.stop()
    return found


async def _reached(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int) -> bool:
    return end == 0 or await consumer.position(tp) >= end


async def _replay_changes_nothing(
    bootstrap: str, agency_id: str, catalog_app: FastAPI, requests_app: FastAPI
) -> bool:
    """Send the agency's events again, byte for byte (same ce_id): nothing changes."""
    originals = await _agency_events(bootstrap, agency_id)
    assert [dict(r.headers)["ce_type"] for r in originals] == [
        b"directory.agency.registered.v1",
        b"directory.agency.deactivated.v1",
    ]
    event_ids = [dict(r.headers)["ce_id"].decode() for r in originals]
    # Both consumers have seen everything on the topic before the snapshot...
    for group in GROUPS:
        await _caught_up(bootstrap, group, "directory.agency")
    before = await _state(catalog_app, requests_app, agency_id, event_ids)
    assert before[:2] == ("inactive2", "inactive2")
    assert before[3:] == (2, 2), "each consumer applied each of the agency's events once"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for record in originals:
            await producer.send_and_wait(
                "directory.agency", record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()
    # ...and after it, including the replays.
    for group in GROUPS:
        await _caught_up(bootstrap, group, "directory.agency")
    after = await _state(catalog_app, requests_app, agency_id, event_ids)
    assert after == before, "a replayed event changed a local copy or produced an event"
    return True
