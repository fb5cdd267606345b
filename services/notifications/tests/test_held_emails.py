"""A request event that overtakes the applicant's account: the inbox message is written at
once and its email waits for identity's `identity.contact` event. Then it goes out once,
in the person's language, if they may be written to; it is dropped if they may not, or if
the account came after the hold's bound; replaying both topics sends nothing again."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import text

from portal_embedded.mail import MailSink
from portal_testing.service import TestIssuer

if TYPE_CHECKING:
    from tests.conftest import Eventually, Publish

REQUESTS = "requests.request"
CONTACTS = "identity.contact"


def user_data(account_id: uuid.UUID, address: str, *, status: str = "active") -> dict[str, Any]:
    """A resident as identity's identity.contact events describe one."""
    return {
        "id": str(account_id),
        "roles": ["resident"],
        "agency_id": None,
        "status": status,
        "version": 1,
        "email": address,
    }


def duplicates(topic: str) -> float:
    value = REGISTRY.get_sample_value(
        "portal_events_consumed_total",
        {"group": f"notifications.{topic}", "outcome": "duplicate"},
    )
    return value or 0.0


async def held(app: FastAPI, account_id: uuid.UUID) -> int:
    async with app.state.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM held_emails WHERE account_id = :a"), {"a": account_id}
        )
        return int(found.scalar_one())


class Person:
    """A resident identity has not yet told the notifications service about."""

    def __init__(self, client: httpx.AsyncClient, issuer: TestIssuer) -> None:
        self.id = uuid.uuid4()
        self.address = f"late-{self.id.hex[:8]}@example.kz"
        self.headers = issuer.headers(sub=self.id)
        self.client = client

    async def choose(self, language: str, *, email: bool) -> None:
        chosen = await self.client.put(
            "/api/v1/me/notification-preferences",
            json={"language": language, "email": email},
            headers=self.headers,
        )
        assert chosen.status_code == 200, chosen.text

    async def inbox(self) -> list[dict[str, Any]]:
        page = await self.client.get("/api/v1/notifications", headers=self.headers)
        assert page.status_code == 200, page.text
        items: list[dict[str, Any]] = page.json()["items"]
        return items


async def _told_before_known(
    person: Person, publish: Publish, new_application: Any, wait_for: Eventually
) -> Any:
    """The request event published and consumed while the person is still unknown here."""
    event = await publish(REQUESTS, "accepted", new_application(person.id).data("in_review"))
    (message,) = await wait_for(person.inbox, "the inbox message")
    assert message["email_status"] is None
    return event


async def test_an_email_waits_for_the_address_then_goes_out_once_in_the_chosen_language(
    app: FastAPI,
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    mail_sink: MailSink,
    publish: Publish,
    new_application: Any,
    state_service: dict[str, Any],
    wait_for: Eventually,
) -> None:
    person = Person(client, issuer)
    await person.choose("ru", email=True)
    told = await _told_before_known(person, publish, new_application, wait_for)
    contact = await publish(CONTACTS, "registered", user_data(person.id, person.address))

    async def delivered() -> bool:
        items = await person.inbox()
        return len(items) == 1 and items[0]["email_status"] == "delivered"

    await wait_for(delivered, "the held email, delivered")

    def mail() -> list[Any]:
        return [m for m in mail_sink.messages() if m["To"] == person.address]

    (sent,) = await wait_for(mail, "the email at the SMTP server")
    assert sent["Content-Language"] == "ru"
    (message,) = await person.inbox()
    assert sent["Subject"] == message["title"]
    assert "Регистрация по месту жительства" in sent.get_body(("plain",)).get_content()
    assert await held(app, person.id) == 0

    # The broker redelivers both events, ids and all: nothing is held or sent again.
    requests_before, contacts_before = duplicates(REQUESTS), duplicates(CONTACTS)
    await publish(REQUESTS, "accepted", told.data, event_id=told.id)
    await publish(CONTACTS, "registered", contact.data, event_id=contact.id)
    await wait_for(
        lambda: duplicates(REQUESTS) > requests_before and duplicates(CONTACTS) > contacts_before,
        "the replay",
    )
    await wait_for(delivered, "the inbox after the replay")
    assert len(await person.inbox()) == 1
    assert len(mail()) == 1


async def test_an_address_learned_after_the_hold_bound_gets_no_email(
    app: FastAPI,
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    mail_sink: MailSink,
    publish: Publish,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    person = Person(client, issuer)
    await person.choose("en", email=True)
    await _told_before_known(person, publish, new_application, wait_for)
    # Eight days pass (the bound is seven) before identity tells the address.
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE held_emails SET created_at = created_at - interval '8 days'"
                " WHERE account_id = :a"
            ),
            {"a": person.id},
        )
    await publish(CONTACTS, "registered", user_data(person.id, person.address))

    async def settled() -> bool:
        return await held(app, person.id) == 0

    await wait_for(settled, "the held email, settled")
    (message,) = await person.inbox()
    assert message["event_type"] == "accepted"
    assert message["email_status"] is None
    assert not [m for m in mail_sink.messages() if m["To"] == person.address]


async def test_a_disabled_account_or_one_without_consent_gets_no_held_email(
    app: FastAPI,
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    mail_sink: MailSink,
    publish: Publish,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    disabled = Person(client, issuer)
    await disabled.choose("kk", email=True)
    # A resident who never chose: held, as the account might have been an officer's.
    silent = Person(client, issuer)
    for person in (disabled, silent):
        await _told_before_known(person, publish, new_application, wait_for)
        assert await held(app, person.id) == 1
    await publish(CONTACTS, "disabled", user_data(disabled.id, disabled.address))
    await publish(CONTACTS, "registered", user_data(silent.id, silent.address))

    for person in (disabled, silent):

        async def settled(person: Person = person) -> bool:
            return await held(app, person.id) == 0

        await wait_for(settled, "the held email, settled")
        (message,) = await person.inbox()
        assert message["email_status"] is None
    addresses = {disabled.address, silent.address}
    assert not [m for m in mail_sink.messages() if m["To"] in addresses]
