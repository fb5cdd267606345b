"""The acceptance journey over the real broker and a real SMTP server: a resident who reads
Russian hears of acceptance, the request for information and the refusal, in Russian, in
the inbox and by email, with the refusal ground's Russian text; replaying every event of
the application sends no second email and adds no message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from portal_embedded.mail import MailSink
from portal_testing.service import TestIssuer

if TYPE_CHECKING:
    from tests.conftest import Eventually, Publish, Register

TOPIC = "requests.request"
GROUP = "notifications.requests.request"


def consumed(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "portal_events_consumed_total", {"group": GROUP, "outcome": outcome}
    )
    return value or 0.0


async def test_a_russian_reading_resident_hears_three_times_in_russian_and_only_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    mail_sink: MailSink,
    publish: Publish,
    register: Register,
    new_application: Any,
    state_service: dict[str, Any],
    wait_for: Eventually,
) -> None:
    address = "aigerim.ru@example.kz"
    resident = await register(email=address)
    headers = issuer.headers(sub=resident)
    chosen = await client.put(
        "/api/v1/me/notification-preferences",
        json={"language": "ru", "email": True},
        headers=headers,
    )
    assert chosen.status_code == 200

    application = new_application(resident)
    life = [
        ("submitted", application.data("submitted")),
        ("accepted", application.data("in_review")),
        (
            "info_requested",
            application.data("needs_info", comment="Приложите договор аренды квартиры"),
        ),
        ("resubmitted", application.data("in_review")),
        (
            "rejected",
            application.data(
                "rejected", reason_code="false-documents", comment="Печать не совпадает"
            ),
        ),
    ]
    sent = [await publish(TOPIC, kind, data) for kind, data in life]

    def mail_to_resident() -> list[Any]:
        return [m for m in mail_sink.messages() if m["To"] == address]

    async def inbox() -> list[dict[str, Any]]:
        page = await client.get("/api/v1/notifications", headers=headers)
        assert page.status_code == 200
        items: list[dict[str, Any]] = page.json()["items"]
        return items

    async def all_delivered() -> bool:
        items = await inbox()
        return len(items) == 3 and all(i["email_status"] == "delivered" for i in items)

    await wait_for(all_delivered, "three messages, each emailed")
    messages = await inbox()
    assert [m["event_type"] for m in messages] == ["rejected", "info_requested", "accepted"]
    rejected, asked, accepted = messages
    assert rejected["title"] == f"По заявке № {application.number} отказано"
    assert "Недостоверность представленных документов" in rejected["body"]
    assert "Печать не совпадает" in rejected["body"]
    assert "Приложите договор аренды квартиры" in asked["body"]
    assert "Регистрация по месту жительства" in accepted["body"]
    assert all(m["request_id"] == str(application.id) for m in messages)
    assert all(m["read_at"] is None for m in messages)

    mails = await wait_for(lambda: len(mail_to_resident()) == 3 and mail_to_resident(), "mail")
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects == sorted(m["title"] for m in messages)
    by_title = {m["title"]: m for m in messages}
    for mail in mails:
        assert mail["Content-Language"] == "ru"
        # The email says what the inbox says, in Russian, with an HTML part alongside.
        plain = mail.get_body(("plain",)).get_content()
        assert plain.strip() == by_title[mail["Subject"]]["body"]
        assert 'lang="ru"' in mail.get_body(("html",)).get_content()
    refusal = next(m for m in mails if "отказано" in m["Subject"])
    assert "Недостоверность представленных документов" in refusal.get_body(("plain",)).get_content()
    assert "Недостоверность представленных документов" in refusal.get_body(("html",)).get_content()
    assert len({m["Message-ID"] for m in mails}) == 3

    # The broker redelivers the whole life of the application, ids and all.
    duplicates_before = consumed("duplicate")
    for (kind, data), event in zip(life, sent, strict=True):
        await publish(TOPIC, kind, data, event_id=event.id)
    await wait_for(lambda: consumed("duplicate") >= duplicates_before + 3, "the replay")
    # One more round of the sender, which would pick up anything the replay had queued.
    await wait_for(all_delivered, "the inbox after the replay")
    assert len(await inbox()) == 3
    assert len(mail_to_resident()) == 3


async def test_the_refusal_ground_is_told_from_the_event_before_the_catalog_arrives(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    publish: Publish,
    register: Register,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    """The catalog's copy of the service and the request's events come through separate
    consumer groups: a rejection that arrives first is still told with the ground's own
    words (Kazakh by default), which the event carries, not with its code."""
    resident = await register(email="no-catalog-yet@example.kz")
    headers = issuer.headers(sub=resident)
    application = new_application(resident)
    wording = {
        "kk": "Құжаттар толық емес",
        "ru": "Неполный комплект документов",
        "en": "The documents are incomplete",
    }
    await publish(TOPIC, "submitted", application.data("submitted"))
    await publish(TOPIC, "accepted", application.data("in_review"))
    await publish(
        TOPIC,
        "rejected",
        application.data("rejected", reason_code="not-in-the-catalog", reason_text=wording),
    )

    async def rejected() -> Any:
        items = (await client.get("/api/v1/notifications", headers=headers)).json()["items"]
        return next((m for m in items if m["event_type"] == "rejected"), None)

    message = await wait_for(rejected, "the rejection in the inbox")
    assert "Құжаттар толық емес" in message["body"]
    assert "not-in-the-catalog" not in message["body"]
