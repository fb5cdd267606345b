"""Fixtures for the requests service's tests: a fresh migrated database, the running app
(relay, consumers and the overdue worker) on the real broker, tokens from a test issuer,
and a `world` that publishes agencies and state services the way the directory and
catalog services do: as CloudEvents produced to the real broker, then waits until this
service's consumers have applied them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import text

from portal_shared.events import CloudEvent
from portal_testing.folders import until_tests_in_done
from portal_testing.service import TestIssuer, client_for, migrated_settings, running, truncate_all
from service_requests.__main__ import SERVICE_ROOT
from service_requests.app import create_app
from service_requests.settings import RequestsSettings

FORM_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["purpose", "arrival_date", "passport_number"],
    "additionalProperties": False,
    "properties": {
        "purpose": {"type": "string", "enum": ["work", "study", "family"]},
        "arrival_date": {"type": "string", "format": "date"},
        "passport_number": {"type": "string", "pattern": "^[A-Z]{1,2}[0-9]{7}$"},
        "stay_days": {"type": "integer", "minimum": 1, "maximum": 365},
    },
}
GOOD_FORM: dict[str, Any] = {
    "purpose": "work",
    "arrival_date": "2026-12-01",
    "passport_number": "N1234567",
    "stay_days": 90,
}
GROUNDS = [
    {"code": "incomplete-documents", "text": {"kk": "...", "ru": "...", "en": "Incomplete"}},
    {"code": "false-information", "text": {"kk": "...", "ru": "...", "en": "False data"}},
]

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="session")
async def settings(postgres_url: str, kafka_bootstrap: str) -> RequestsSettings:
    return await migrated_settings(
        RequestsSettings,
        SERVICE_ROOT,
        f"{postgres_url}/requests_test",
        kafka_bootstrap,
        overdue_check_interval_seconds=0.3,
    )


@pytest.fixture(scope="session")
async def app(settings: RequestsSettings, issuer: TestIssuer) -> AsyncIterator[FastAPI]:
    async with until_tests_in_done(running(create_app(settings), issuer), HERE) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_all(app.state.engine)
    async with client_for(app) as client:
        yield client


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Poll until `check` holds (consumers and workers run in the background)."""
    async with asyncio.timeout(within):
        while not await check():
            await asyncio.sleep(0.05)


@dataclass
class World:
    """Agencies and state services as the other services publish them."""

    app: FastAPI
    producer: AIOKafkaProducer
    client: httpx.AsyncClient
    sent: list[CloudEvent] = field(default_factory=list)

    async def _send(self, topic: str, event: CloudEvent) -> None:
        await self.producer.send_and_wait(
            topic, value=event.value(), key=event.subject.encode(), headers=event.headers()
        )
        self.sent.append(event)

    async def consumed(self, event: CloudEvent) -> None:
        """Wait until this service's consumer has recorded `event` (applied or ignored)."""

        async def recorded() -> bool:
            async with self.app.state.engine.connect() as conn:
                found = await conn.execute(
                    text("SELECT 1 FROM processed_events WHERE event_id = :id"), {"id": event.id}
                )
                return found.first() is not None

        await eventually(recorded)

    async def _version_of(self, table: str, ident: UUID) -> tuple[int, str] | None:
        async with self.app.state.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(f"SELECT version, status FROM {table} WHERE id = :id"),  # noqa: S608
                    {"id": ident},
                )
            ).first()
        return None if row is None else (int(row[0]), str(row[1]))

    async def agency(
        self,
        agency_id: UUID | None = None,
        *,
        timezone: str = "Asia/Almaty",
        version: int = 1,
        kind: str = "registered",
    ) -> UUID:
        agency_id = agency_id or uuid.uuid4()
        data = {
            "id": str(agency_id),
            "code": f"BKR-{agency_id.hex[:6].upper()}",
            "name": {"kk": "Агенттік", "ru": "Агентство", "en": "Agency"},
            "kind": "department",
            "timezone": timezone,
            "status": "active" if kind != "deactivated" else "inactive",
            "version": version,
        }
        event = CloudEvent(
            type=f"directory.agency.{kind}.v1",
            source="/directory",
            subject=str(agency_id),
            data=data,
        )
        await self._send("directory.agency", event)
        await eventually(lambda: self._has("agencies", agency_id, version))
        return agency_id

    async def service(
        self,
        agency_id: UUID,
        service_id: UUID | None = None,
        *,
        version: int = 1,
        status: str = "published",
        kind: str = "published",
        term: int = 5,
        form_schema: dict[str, Any] | None = None,
        refusal_grounds: list[dict[str, Any]] | None = None,
        required_documents: list[dict[str, Any]] | None = None,
        wait: bool = True,
    ) -> UUID:
        service_id = service_id or uuid.uuid4()
        data = {
            "id": str(service_id),
            "code": f"SVC-{service_id.hex[:6]}",
            "name": {"kk": "Қызмет", "ru": "Услуга", "en": "Residence registration"},
            "description": {"kk": "", "ru": "", "en": ""},
            "agency_id": str(agency_id),
            "term_working_days": term,
            "fee": {"amount": 0, "currency": "KZT"},
            "refusal_grounds": GROUNDS if refusal_grounds is None else refusal_grounds,
            "form_schema": FORM_SCHEMA if form_schema is None else form_schema,
            "required_documents": required_documents or [],
            "status": status,
            "version": version,
        }
        event = CloudEvent(
            type=f"catalog.service.{kind}.v1",
            source="/catalog",
            subject=str(service_id),
            data=data,
        )
        await self._send("catalog.service", event)
        if wait:
            await eventually(lambda: self._has("offerings", service_id, version, status))
        return service_id

    async def _has(self, table: str, ident: UUID, version: int, status: str | None = None) -> bool:
        found = await self._version_of(table, ident)
        if found is None or found[0] < version:
            return False
        return status is None or found[1] == status


@pytest.fixture
async def world(client: httpx.AsyncClient, app: FastAPI, producer: AIOKafkaProducer) -> World:
    # Depends on `client` so the tables are emptied before anything is published.
    return World(app, producer, client)


@dataclass
class Parties:
    """The people around one state service: its agency, officers, residents, an admin."""

    good_form: ClassVar[dict[str, Any]] = GOOD_FORM

    issuer: TestIssuer
    client: httpx.AsyncClient
    agency_id: UUID
    other_agency_id: UUID
    service_id: UUID
    resident_id: UUID = field(default_factory=uuid.uuid4)
    other_resident_id: UUID = field(default_factory=uuid.uuid4)

    def resident(self, who: UUID | None = None) -> dict[str, str]:
        return self.issuer.headers(sub=who or self.resident_id, roles=["resident"])

    def other_resident(self) -> dict[str, str]:
        return self.resident(self.other_resident_id)

    def officer(self, agency_id: UUID | None = None) -> dict[str, str]:
        return self.issuer.headers(roles=["officer"], agency_id=agency_id or self.agency_id)

    def other_officer(self) -> dict[str, str]:
        return self.officer(self.other_agency_id)

    def admin(self) -> dict[str, str]:
        return self.issuer.headers(roles=["admin"])

    def agency_system(
        self, scope: str = "requests:read requests:write", agency_id: UUID | None = None
    ) -> dict[str, str]:
        return self.issuer.headers(
            sub="agency-demo",
            client_id="agency-demo",
            roles=[],
            scope=scope,
            agency_id=agency_id or self.agency_id,
        )

    async def submit(
        self,
        form: dict[str, Any] | None = None,
        *,
        who: UUID | None = None,
        key: str | None = None,
    ) -> dict[str, Any]:
        """Submit as a resident (the main one unless `who`) and return the created request."""
        headers = self.resident(who)
        if key is not None:
            headers["Idempotency-Key"] = key
        response = await self.client.post(
            "/api/v1/requests",
            json={"service_id": str(self.service_id), "form_data": form or GOOD_FORM},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def act(
        self, request_id: str, headers: dict[str, str], action: str, **fields: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/requests/{request_id}/actions",
            json={"action": action, **fields},
            headers=headers,
        )


@pytest.fixture
async def parties(world: World, issuer: TestIssuer) -> Parties:
    agency_id = await world.agency()
    other_agency_id = await world.agency()
    service_id = await world.service(agency_id)
    return Parties(issuer, world.client, agency_id, other_agency_id, service_id)
