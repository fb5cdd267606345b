"""The broker unreachable during 1,000 submissions, then back.

Every client of the broker (the requests process's relay and consumers, and the
test's own consumer of `requests.request`) reaches it through a proxy the test
cuts. Submissions must all be accepted while it is away (the write path never
waits on Kafka); once it is back, every accepted submission's event arrives and
its effect is applied exactly once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from portal_embedded.broker import EmbeddedBroker
from portal_embedded.proxy import TcpProxy
from portal_shared.db import make_engine, make_sessionmaker
from portal_shared.events import CloudEvent, EventConsumer, make_producer
from portal_shared.migrations import create_event_tables, ensure_database
from portal_testing.service import TestIssuer
from tests.faults.harness import (
    PortalFactory,
    agency_event,
    count,
    eventually,
    header,
    produce,
    provision,
    read_topic,
    service_event,
)

SUBMISSIONS = 1000
CONCURRENCY = 20
SUBMITTED = "requests.request.submitted.v1"


def _create_sink(connection: Connection) -> None:
    create_event_tables(Operations(MigrationContext.configure(connection)))
    # No unique constraint hides a second application: it shows as applied = 2.
    connection.execute(
        text("CREATE TABLE effects (request_id uuid PRIMARY KEY, applied int NOT NULL)")
    )


async def _apply(session: AsyncSession, event: CloudEvent) -> None:
    await session.execute(
        text(
            "INSERT INTO effects (request_id, applied) VALUES (:id, 1)"
            " ON CONFLICT (request_id) DO UPDATE SET applied = effects.applied + 1"
        ),
        {"id": uuid.UUID(event.data["id"])},
    )


@pytest.fixture
async def sink_url(postgres_url: str) -> str:
    """A database of the test's own, where a downstream consumer applies each event."""
    url = f"{postgres_url}/faults_sink_{uuid.uuid4().hex[:8]}"
    await ensure_database(url)
    engine = make_engine(url, pool_size=2)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_create_sink)
    finally:
        await engine.dispose()
    return url


async def _submit_all(
    base_url: str, issuer: TestIssuer, service_id: uuid.UUID
) -> list[httpx.Response]:
    residents = [issuer.headers(roles=["resident"], ttl=600) for _ in range(CONCURRENCY)]
    body: dict[str, Any] = {"service_id": str(service_id), "form_data": {"purpose": "work"}}
    responses: list[httpx.Response] = []
    pending = iter(range(SUBMISSIONS))
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as client:

        async def resident(headers: dict[str, str]) -> None:
            for _ in pending:
                # As a careful client does: a 503 (the database busy, say) is retried after
                # its Retry-After with the same Idempotency-Key, which cannot apply twice.
                keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
                for _attempt in range(5):
                    answer = await client.post("/api/v1/requests", json=body, headers=keyed)
                    if answer.status_code != 503:
                        break
                    await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
                responses.append(answer)

        await asyncio.gather(*(resident(h) for h in residents))
    return responses


def _errors(log: str) -> str:
    """The log lines of unhandled errors, with their tracebacks, or the log's tail."""
    lines = log.splitlines()
    marks = [i for i, line in enumerate(lines) if "error" in line.lower()]
    return "\n".join(lines[marks[0] : marks[0] + 60] if marks else lines[-40:])


async def test_submissions_during_broker_outage_all_arrive_and_apply_once(
    cut_broker: tuple[EmbeddedBroker, TcpProxy],
    portals: PortalFactory,
    sink_url: str,
    fault_issuer: TestIssuer,
) -> None:
    _, proxy = cut_broker
    bootstrap = f"127.0.0.1:{proxy.port}"
    portal = portals(bootstrap)
    await provision(bootstrap)
    await portal.migrate("requests")
    requests = await portal.start("requests", "serve")
    db = portal.database_url("requests")

    agency_id, service_id = uuid.uuid4(), uuid.uuid4()
    await produce(bootstrap, "directory.agency", [agency_event(agency_id)])
    await produce(bootstrap, "catalog.service", [service_event(service_id, agency_id)])

    async def service_open() -> bool:
        return await count(db, "SELECT count(*) FROM offerings WHERE id = $1", service_id) == 1

    await eventually(service_open, what="the requests service has the published service")

    engine = make_engine(sink_url, pool_size=2)
    consumer = EventConsumer(
        group_id=portal.group_prefix + "faults.effects",
        bootstrap_servers=bootstrap,
        topics=["requests.request"],
        handlers={SUBMITTED: _apply},
        sessionmaker=make_sessionmaker(engine),
        producer_factory=lambda: make_producer(bootstrap, idempotence=False),
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async with asyncio.timeout(30):
            await consumer.assigned.wait()

        proxy.cut()
        responses = await _submit_all(requests.base_url, fault_issuer, service_id)
        statuses = [r.status_code for r in responses]
        accepted = {r.json()["id"] for r in responses if r.status_code == 201}
        assert len(responses) == SUBMISSIONS
        refused = [r for r in responses if r.status_code != 201]
        assert not refused, (
            f"not all accepted: {set(statuses)}; first refusal: {refused[0].text}\n"
            f"requests log:\n{_errors(requests.log_path.read_text(errors='replace'))}"
        )
        assert len(accepted) == SUBMISSIONS

        # While the broker is away the events wait in the outbox.
        waiting = "SELECT count(*) FROM outbox WHERE published_at IS NULL AND type = $1"
        assert await count(db, waiting, SUBMITTED) == SUBMISSIONS
        assert await count(sink_url, "SELECT count(*) FROM effects") == 0

        proxy.restore()

        async def all_applied() -> bool:
            return await count(sink_url, "SELECT count(*) FROM effects") == SUBMISSIONS

        await eventually(all_applied, within=120, what="every submission's effect is applied")
        assert await count(db, waiting, SUBMITTED) == 0
    finally:
        stop.set()
        await task
        await engine.dispose()

    records = await read_topic(bootstrap, "requests.request", at_least=SUBMISSIONS)
    submitted = [r for r in records if header(r, "ce_type") == SUBMITTED]
    delivered = {header(r, "ce_id") for r in submitted}
    assert len(delivered) == SUBMISSIONS
    assert {json.loads(r.value)["id"] for r in submitted} == accepted
    assert all(r.key.decode() == json.loads(r.value)["id"] for r in submitted)

    applied = await count(sink_url, "SELECT count(*) FROM effects WHERE applied = 1")
    recorded = await count(sink_url, "SELECT count(*) FROM processed_events")
    assert (applied, recorded) == (SUBMISSIONS, SUBMISSIONS), "each effect exactly once"
