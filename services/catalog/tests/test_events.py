"""Events over the real broker: the directory's agency events keep the local agency copy,
and what the catalog publishes carries the whole published version, form schema included."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import text

from portal_shared.events import CloudEvent

SERVICES = "/api/v1/services"
BodyMaker = Callable[..., dict[str, Any]]


def agency(code: str, *, status: str = "active", version: int = 1) -> dict[str, Any]:
    """The directory's public agency, as its events' `data` carries it (CONTRIBUTING.md)."""
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:baikonur-portal:agency:{code}")),
        "code": code,
        "name": {"kk": "Көші-қон қызметі", "ru": "Миграционная служба", "en": "Migration service"},
        "kind": "department",
        "parent_id": None,
        "bin": "000740000728",
        "city": "Baikonur",
        "address": "Baikonur, Gagarin av. 5",
        "timezone": "Asia/Almaty",
        "working_hours": {"mon-fri": "09:00-18:30"},
        "contacts": {"phone": "+7 33622 00000"},
        "status": status,
        "version": version,
    }


@pytest.fixture
async def directory(
    kafka_bootstrap: str, app: FastAPI
) -> AsyncIterator[Callable[[str, dict[str, Any]], Awaitable[CloudEvent]]]:
    """Publishes agency events exactly as the directory's relay does."""
    consumer = app.state.consumers[0]
    async with asyncio.timeout(30):
        await consumer.assigned.wait()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()

    async def send(kind: str, data: dict[str, Any], event_id: str | None = None) -> CloudEvent:
        event = CloudEvent(
            type=f"directory.agency.{kind}.v1",
            source="/directory",
            subject=data["id"],
            data=data,
            id=event_id or str(uuid.uuid4()),
        )
        await producer.send_and_wait(
            "directory.agency",
            value=event.value(),
            key=data["id"].encode(),
            headers=event.headers(),
        )
        return event

    try:
        yield send
    finally:
        await producer.stop()


async def copy_of(app: FastAPI, agency_id: str) -> tuple[str, int] | None:
    async with app.state.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, version FROM agencies WHERE id = :id"), {"id": agency_id}
            )
        ).first()
    return (row.status, row.version) if row else None


async def until(condition: Callable[[], Awaitable[bool]], within: float = 30) -> None:
    async with asyncio.timeout(within):
        while not await condition():
            await asyncio.sleep(0.05)


async def processed(app: FastAPI, event_id: str) -> bool:
    async with app.state.engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM processed_events WHERE event_id = :id"), {"id": event_id}
        )
    return bool(found)


async def catalog_events(bootstrap: str, key: str, count: int) -> list[CloudEvent]:
    """The catalog.service events of one service, read from the broker; waits for `count`,
    then a little more so that a duplicate would show."""
    consumer = AIOKafkaConsumer(
        "catalog.service", bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    out: list[CloudEvent] = []
    try:
        async with asyncio.timeout(30):
            while len(out) < count:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    out += [
                        CloudEvent.from_kafka(r.headers, r.value)
                        for r in records
                        if r.key == key.encode()
                    ]
        for records in (await consumer.getmany(timeout_ms=500)).values():
            out += [
                CloudEvent.from_kafka(r.headers, r.value) for r in records if r.key == key.encode()
            ]
    finally:
        await consumer.stop()
    return out


async def test_published_events_carry_the_form_schema(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    app: FastAPI,
    kafka_bootstrap: str,
    directory: Callable[..., Awaitable[CloudEvent]],
    make_body: BodyMaker,
) -> None:
    data = agency("BKR-CIVREG")
    await directory("registered", data)
    await until(lambda: _has(app, data["id"]))
    code = f"birth-registration-{uuid.uuid4().hex[:6]}"
    created = (await client.post(SERVICES, json=make_body(code, data["id"]), headers=admin)).json()
    url = f"{SERVICES}/{created['id']}"
    published = (await client.post(f"{url}/publish", headers=admin)).json()
    draft = await client.get(f"{url}/draft", headers=admin)
    await client.patch(
        url,
        json={"term_working_days": 2},
        headers={**admin, "If-Match": draft.headers["ETag"]},
    )
    await client.post(f"{url}/publish", headers=admin)
    await client.post(f"{url}/withdraw", headers=admin)

    events = await catalog_events(kafka_bootstrap, created["id"], 3)
    assert [(e.type, e.data["version"], e.data["status"]) for e in events] == [
        ("catalog.service.published.v1", 1, "published"),
        ("catalog.service.updated.v1", 2, "published"),
        ("catalog.service.withdrawn.v1", 2, "withdrawn"),
    ]
    # The payload is the published version as GET returns it: the requests service
    # validates applications with this form schema without calling the catalog.
    assert events[0].data == orjson.loads(orjson.dumps(published))
    assert events[0].data["form_schema"] == make_body(code, data["id"])["form_schema"]
    assert events[1].data["term_working_days"] == 2
    assert {e.subject for e in events} == {created["id"]}


async def _has(app: FastAPI, agency_id: str) -> bool:
    return await copy_of(app, agency_id) is not None


async def test_deactivated_agency_withdraws_its_services_and_replays_change_nothing(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    app: FastAPI,
    kafka_bootstrap: str,
    directory: Callable[..., Awaitable[CloudEvent]],
    make_body: BodyMaker,
) -> None:
    data = agency("BKR-MIGRATION")
    registered = await directory("registered", data)
    await until(lambda: _has(app, data["id"]))
    codes = [f"residence-registration-{uuid.uuid4().hex[:6]}", f"id-card-{uuid.uuid4().hex[:6]}"]
    ids = []
    for code in codes:
        created = (
            await client.post(SERVICES, json=make_body(code, data["id"]), headers=admin)
        ).json()
        await client.post(f"{SERVICES}/{created['id']}/publish", headers=admin)
        ids.append(created["id"])

    deactivated = await directory("deactivated", {**data, "status": "inactive", "version": 2})
    await until(lambda: processed(app, deactivated.id))
    assert await copy_of(app, data["id"]) == ("inactive", 2)
    for service_id in ids:
        assert (await client.get(f"{SERVICES}/{service_id}")).json()["status"] == "withdrawn"
        audit = (await client.get(f"{SERVICES}/{service_id}/audit", headers=admin)).json()
        assert audit["items"][-1]["detail"]["reason"] == "the responsible agency was deactivated"
    # A new service for the inactive agency is refused.
    refused = await client.post(SERVICES, json=make_body("late", data["id"]), headers=admin)
    assert refused.status_code == 422

    # Replays: the same event again (same ce_id), and the older registration under a new
    # id (as after a topic replay), change nothing.
    await directory("deactivated", deactivated.data, deactivated.id)
    stale = await directory("registered", registered.data)
    await until(lambda: processed(app, stale.id))
    assert await copy_of(app, data["id"]) == ("inactive", 2)
    for service_id in ids:
        events = await catalog_events(kafka_bootstrap, service_id, 2)
        assert [e.type for e in events] == [
            "catalog.service.published.v1",
            "catalog.service.withdrawn.v1",
        ]
        assert events[1].data["form_schema"]["type"] == "object"

    # Reactivated later: the copy follows, and the services stay withdrawn until republished.
    await directory("updated", {**data, "status": "active", "version": 3})
    await until(lambda: _is(app, data["id"], ("active", 3)))
    assert (await client.get(f"{SERVICES}/{ids[0]}")).json()["status"] == "withdrawn"
    assert (await client.post(f"{SERVICES}/{ids[0]}/publish", headers=admin)).status_code == 200


async def _is(app: FastAPI, agency_id: str, expected: tuple[str, int]) -> bool:
    return await copy_of(app, agency_id) == expected
