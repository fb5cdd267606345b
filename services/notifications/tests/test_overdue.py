"""An overdue request is told to its applicant and, by email at their work address, to the
officers of the responsible agency, each in their own language; no other agency hears."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx

from portal_embedded.mail import MailSink
from portal_testing.service import TestIssuer

if TYPE_CHECKING:
    from tests.conftest import Eventually, Publish, Register

AGENCY_ID = uuid.uuid5(uuid.NAMESPACE_URL, "urn:baikonur-portal:agency:BKR-MIGRATION")


async def test_the_agencys_officers_are_emailed_when_a_request_goes_overdue(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    mail_sink: MailSink,
    publish: Publish,
    register: Register,
    new_application: Any,
    state_service: dict[str, Any],
    wait_for: Eventually,
) -> None:
    officer_address = f"officer-{uuid.uuid4().hex[:8]}@migration.gov.kz"
    officer = await register(email=officer_address, roles=("officer",), agency_id=AGENCY_ID)
    elsewhere = await register(roles=("officer",), agency_id=uuid.uuid4())
    officer_headers = issuer.headers(sub=officer, roles=["officer"], agency_id=AGENCY_ID)
    # An officer is emailed at their work address until they choose otherwise.
    defaults = await client.get("/api/v1/me/notification-preferences", headers=officer_headers)
    assert defaults.json() == {"language": "kk", "email": True}
    await client.put(
        "/api/v1/me/notification-preferences",
        json={"language": "ru", "email": True},
        headers=officer_headers,
    )
    resident = await register()
    application = new_application(resident)
    await publish("requests.request", "accepted", application.data("in_review"))
    overdue = application.data("in_review")
    await publish("requests.request", "overdue", overdue)

    async def inbox(headers: dict[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (
            await client.get("/api/v1/notifications", headers=headers)
        ).json()["items"]
        return items

    async def officer_delivered() -> bool:
        items = await inbox(officer_headers)
        return len(items) == 1 and items[0]["email_status"] == "delivered"

    await wait_for(officer_delivered, "the officer's email")
    message = (await inbox(officer_headers))[0]
    assert message["event_type"] == "overdue"
    assert message["title"] == f"Просрочена заявка № {application.number}"
    assert "Регистрация по месту жительства" in message["body"]
    mails = [m for m in mail_sink.messages() if m["To"] == officer_address]
    assert [m["Subject"] for m in mails] == [message["title"]]

    resident_inbox = await inbox(issuer.headers(sub=resident))
    assert [m["event_type"] for m in resident_inbox] == ["overdue", "accepted"]
    assert await inbox(issuer.headers(sub=elsewhere, roles=["officer"])) == []
