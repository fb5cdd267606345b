"""Events applied a fetched batch at a time keep every promise made one event at a time: an
event redelivered within or across batches is told once, and a server that goes away in
the middle of a batch of emails delays some of them but loses none and doubles none."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import text

from portal_embedded.mail import MailSink
from portal_shared.events import CloudEvent
from portal_testing.service import TestIssuer

if TYPE_CHECKING:
    from tests.conftest import Eventually, Publish, Register

TOPIC = "requests.request"


async def _consenting(
    client: httpx.AsyncClient, issuer: TestIssuer, register: Register, email: str
) -> tuple[uuid.UUID, dict[str, str]]:
    resident = await register(email=email)
    headers = issuer.headers(sub=resident)
    await client.put(
        "/api/v1/me/notification-preferences",
        json={"language": "en", "email": True},
        headers=headers,
    )
    return resident, headers


async def _burst(bootstrap: str, events: list[CloudEvent]) -> None:
    """Publish the events in one produce request, so that they are fetched as one batch."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=200)
    await producer.start()
    try:
        for event in events:
            await producer.send(
                TOPIC, value=event.value(), key=str(event.subject).encode(), headers=event.headers()
            )
        await producer.flush()
    finally:
        await producer.stop()


def _event(kind: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        type=f"{TOPIC}.{kind}.v1", source="/requests", subject=str(data["id"]), data=data
    )


async def test_a_batch_with_redelivered_events_sends_no_second_email(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    kafka_bootstrap: str,
    mail_sink: MailSink,
    publish: Publish,
    register: Register,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    address = f"twice-{uuid.uuid4().hex[:8]}@example.kz"
    resident, headers = await _consenting(client, issuer, register, address)
    application = new_application(resident)
    accepted = await publish(TOPIC, "accepted", application.data("in_review"))

    async def inbox() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (
            await client.get("/api/v1/notifications", headers=headers)
        ).json()["items"]
        return found

    async def all_delivered(count: int) -> bool:
        items = await inbox()
        return len(items) == count and all(i["email_status"] == "delivered" for i in items)

    await wait_for(lambda: all_delivered(1), "the first email")
    approved = _event("approved", application.data("approved"))
    # The accepted event again (a redelivery after a crash), the new one, and each twice.
    await _burst(kafka_bootstrap, [accepted, approved, approved, accepted])
    await wait_for(lambda: all_delivered(2), "the second email")

    received = [m for m in mail_sink.messages() if m["To"] == address]
    assert sorted(str(m["Subject"]) for m in received) == sorted(i["title"] for i in await inbox())
    assert len({m["Message-ID"] for m in received}) == 2


async def test_an_smtp_outage_in_the_middle_of_a_batch_loses_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    kafka_bootstrap: str,
    mail_sink: MailSink,
    register: Register,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    address = f"cut-{uuid.uuid4().hex[:8]}@example.kz"
    resident, headers = await _consenting(client, issuer, register, address)
    events = [_event("accepted", new_application(resident).data("in_review")) for _ in range(20)]
    # The server takes five of the batch's emails, then hangs up on the next eight.
    sink = mail_sink.handler
    assert sink is not None
    sink.outage(after=5, refusing=8)
    try:
        await _burst(kafka_bootstrap, events)

        async def delivered() -> bool:
            items = (
                await client.get("/api/v1/notifications", headers=headers, params={"limit": 50})
            ).json()["items"]
            return len(items) == 20 and all(i["email_status"] == "delivered" for i in items)

        await wait_for(delivered, "every email delivered after the outage")
    finally:
        sink.outage(after=0, refusing=0)

    received = [m for m in mail_sink.messages() if m["To"] == address]
    assert len(received) == 20
    assert len({m["Message-ID"] for m in received}) == 20
    async with app.state.engine.connect() as conn:
        tries = (
            await conn.execute(
                text("SELECT attempts FROM emails WHERE to_address = :a"), {"a": address}
            )
        ).scalars()
        attempts = list(tries)
    # Some went out at once, some only after the server was back.
    assert min(attempts) == 1 < max(attempts)
