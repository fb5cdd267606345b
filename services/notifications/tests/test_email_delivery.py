"""Email delivery as GOV.UK Notify models it: an SMTP server that is away delays mail but
loses none and sends none twice; a 5xx reply is a permanent failure, shown on the message;
a resident without consent or without an address gets no email."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from portal_embedded.mail import MailSink
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


async def test_mail_waits_for_a_server_that_is_down_then_arrives_once(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    mail_sink: MailSink,
    publish: Publish,
    register: Register,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    address = f"patient-{uuid.uuid4().hex[:8]}@example.kz"
    resident, headers = await _consenting(client, issuer, register, address)

    async def status() -> str | None:
        items = (await client.get("/api/v1/notifications", headers=headers)).json()["items"]
        return items[0]["email_status"] if items else None

    mail_sink.stop()
    try:
        await publish(TOPIC, "accepted", new_application(resident).data("in_review"))
        await wait_for(lambda: _is(status, "temporary-failure"), "a temporary failure")
    finally:
        mail_sink.start()
    await wait_for(lambda: _is(status, "delivered"), "delivery once the server is back")
    received = [m for m in mail_sink.messages() if m["To"] == address]
    assert len(received) == 1
    assert received[0]["Subject"].startswith("Application No. ")


async def test_a_5xx_reply_is_a_permanent_failure_and_is_not_retried(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    mail_sink: MailSink,
    publish: Publish,
    register: Register,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    address = f"nobody-{uuid.uuid4().hex[:8]}@refused.example"
    resident, headers = await _consenting(client, issuer, register, address)
    await publish(TOPIC, "approved", new_application(resident).data("approved"))

    async def status() -> str | None:
        items = (await client.get("/api/v1/notifications", headers=headers)).json()["items"]
        return items[0]["email_status"] if items else None

    await wait_for(lambda: _is(status, "permanent-failure"), "a permanent failure")
    assert not [m for m in mail_sink.messages() if m["To"] == address]
    # An admin sees it too, in that person's messages; nobody else may ask.
    seen = await client.get(
        "/api/v1/notifications",
        params={"account_id": str(resident)},
        headers=issuer.headers(roles=["admin"]),
    )
    assert [m["email_status"] for m in seen.json()["items"]] == ["permanent-failure"]
    refused = await client.get(
        "/api/v1/notifications",
        params={"account_id": str(resident)},
        headers=issuer.headers(roles=["officer"]),
    )
    assert refused.status_code == 403


async def test_no_email_without_consent_or_without_an_address(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    mail_sink: MailSink,
    publish: Publish,
    register: Register,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    address = f"quiet-{uuid.uuid4().hex[:8]}@example.kz"
    quiet = await register(email=address)
    await publish(TOPIC, "accepted", new_application(quiet).data("in_review"))
    unknown = uuid.uuid4()  # consented, but identity has told us no address
    await client.put(
        "/api/v1/me/notification-preferences",
        json={"language": "ru", "email": True},
        headers=issuer.headers(sub=unknown),
    )
    await publish(TOPIC, "accepted", new_application(unknown).data("in_review"))

    for person in (quiet, unknown):
        headers = issuer.headers(sub=person)

        async def items(headers: dict[str, str] = headers) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = (
                await client.get("/api/v1/notifications", headers=headers)
            ).json()["items"]
            return found

        message = (await wait_for(items, "the inbox message"))[0]
        assert message["email_status"] is None
    assert not [m for m in mail_sink.messages() if m["To"] == address]


async def _is(status: Any, wanted: str) -> bool:
    return bool(await status() == wanted)


@pytest.mark.slow
async def test_an_smtp_outage_over_500_status_changes_loses_no_mail_and_doubles_none(
    app: FastAPI,
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    mail_sink: MailSink,
    publish: Publish,
    register: Register,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    address = f"busy-{uuid.uuid4().hex[:8]}@example.kz"
    resident, _ = await _consenting(client, issuer, register, address)

    async def emails(status: str | None = None) -> int:
        sql = "SELECT count(*) FROM emails WHERE to_address = :a"
        if status is not None:
            sql += " AND status = :s"
        async with app.state.engine.connect() as conn:
            found = await conn.execute(text(sql), {"a": address, "s": status})
            return int(found.scalar_one())

    mail_sink.stop()
    try:
        for _ in range(250):
            application = new_application(resident)
            await publish(TOPIC, "accepted", application.data("in_review"))
            await publish(TOPIC, "approved", application.data("approved"))
        # Generous bounds: this is about losing nothing, not speed (see bench/).
        await wait_for(lambda: _equals(emails(), 500), "500 emails recorded", 300)
        assert await emails("delivered") == 0
    finally:
        mail_sink.start()
    await wait_for(lambda: _equals(emails("delivered"), 500), "500 emails delivered", 300)
    received = [m for m in mail_sink.messages() if m["To"] == address]
    assert len(received) == 500
    assert len({m["Message-ID"] for m in received}) == 500


async def _equals(count: Any, wanted: int) -> bool:
    return bool(await count == wanted)
