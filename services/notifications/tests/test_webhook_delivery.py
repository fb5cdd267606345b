"""Webhooks delivered to a real receiver on loopback, which verifies every delivery with the
official `standardwebhooks` library: validation first, then a whole application's journey
in order; retries keep the `webhook-id`; 410 disables, and the subscription's owner (the
admin who made it, or the agency's officers) is told once, by email and in the inbox; each
agency system gets only its own agency's events; a long outage loses nothing."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from notifications.settings import NotificationsSettings
from portal_embedded.mail import MailSink
from portal_testing.service import TestIssuer

if TYPE_CHECKING:
    from tests.conftest import Application, Eventually, Publish, Receiver, Register

TOPIC = "requests.request"
JOURNEY = ("submitted", "accepted", "info_requested", "resubmitted", "approved", "completed")


def system(issuer: TestIssuer, agency: uuid.UUID, client: str) -> dict[str, str]:
    return issuer.headers(
        sub=client, client_id=client, roles=[], agency_id=agency, scope="events:subscribe"
    )


async def active_subscription(
    client: httpx.AsyncClient,
    receiver: Receiver,
    wait_for: Eventually,
    headers: dict[str, str],
    name: str,
) -> dict[str, Any]:
    """A subscription of endpoint `name`, validated by the receiver (so active)."""
    made = await client.post(
        "/api/v1/subscriptions",
        json={"url": receiver.url(name), "types": ["requests.request.*"]},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    receiver.endpoints[name].secret = made.json()["secret"]
    path = f"/api/v1/subscriptions/{made.json()['id']}"

    async def active() -> bool:
        status = (await client.get(path, headers=headers)).json()["status"]
        return bool(status == "active")

    await wait_for(active, "the subscription's validation")
    validation = receiver.of(name, "portal.subscription.validation.v1")
    assert len(validation) == 1
    return dict(made.json())


async def test_a_whole_journey_arrives_verified_and_in_order(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    receiver: Receiver,
    publish: Publish,
    wait_for: Eventually,
    new_application: Callable[[uuid.UUID], Application],
) -> None:
    application = new_application(uuid.uuid4())
    agency = uuid.UUID(application.data("draft")["agency_id"])
    await active_subscription(client, receiver, wait_for, system(issuer, agency, "sys-a"), "a")
    receiver.endpoints["a"].answers = [503, 503]  # the first event is tried three times
    sent = [await publish(TOPIC, kind, application.data(kind)) for kind in JOURNEY]

    def all_arrived() -> bool:
        return len(receiver.of("a")) == 1 + len(JOURNEY)

    await wait_for(all_arrived, "the journey's deliveries")
    events = receiver.of("a")[1:]
    assert [e["headers"]["webhook-id"] for e in events] == [s.id for s in sent]
    assert [e["headers"]["ce-type"] for e in events] == [f"{TOPIC}.{k}.v1" for k in JOURNEY]
    assert [e["headers"]["ce-id"] for e in events] == [s.id for s in sent]
    assert {e["headers"]["ce-subject"] for e in events} == {str(application.id)}
    assert all(e["headers"]["ce-specversion"] == "1.0" for e in events)
    assert receiver.endpoints["a"].unverified == 0


async def test_each_agency_system_receives_only_its_agencys_events(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    receiver: Receiver,
    publish: Publish,
    wait_for: Eventually,
    new_application: Callable[[uuid.UUID], Application],
) -> None:
    agency_a, agency_b = uuid.uuid4(), uuid.uuid4()
    await active_subscription(client, receiver, wait_for, system(issuer, agency_a, "sys-a"), "a")
    await active_subscription(client, receiver, wait_for, system(issuer, agency_b, "sys-b"), "b")
    admin = issuer.headers(roles=["admin"])
    await active_subscription(client, receiver, wait_for, admin, "all")
    mine, theirs = new_application(uuid.uuid4()), new_application(uuid.uuid4())
    sent_a = [
        await publish(TOPIC, kind, {**mine.data(kind), "agency_id": str(agency_a)})
        for kind in JOURNEY[:3]
    ]
    sent_b = [
        await publish(TOPIC, kind, {**theirs.data(kind), "agency_id": str(agency_b)})
        for kind in JOURNEY[:2]
    ]

    def all_arrived() -> bool:
        return len(receiver.of("all")) == 1 + len(sent_a) + len(sent_b)

    await wait_for(all_arrived, "the administrator's deliveries")
    await wait_for(lambda: len(receiver.of("a")) == 1 + len(sent_a), "agency A's deliveries")
    await wait_for(lambda: len(receiver.of("b")) == 1 + len(sent_b), "agency B's deliveries")
    ids_a = [e["headers"]["webhook-id"] for e in receiver.of("a")[1:]]
    ids_b = [e["headers"]["webhook-id"] for e in receiver.of("b")[1:]]
    assert ids_a == [s.id for s in sent_a]
    assert ids_b == [s.id for s in sent_b]


async def test_a_slow_endpoint_holds_up_no_other(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    receiver: Receiver,
    publish: Publish,
    wait_for: Eventually,
    new_application: Callable[[uuid.UUID], Application],
    settings: NotificationsSettings,
) -> None:
    """An agency system's endpoint that keeps a delivery waiting (up to the read timeout)
    delays only its own deliveries: another agency's system gets its events meanwhile, one
    after the other, and the slow one's delivery is recorded when it is answered."""
    slow, quick = uuid.uuid4(), uuid.uuid4()
    await active_subscription(client, receiver, wait_for, system(issuer, slow, "sys-s"), "slow")
    await active_subscription(client, receiver, wait_for, system(issuer, quick, "sys-q"), "quick")
    release = receiver.endpoints["slow"].hold = asyncio.Event()
    waiting, flowing = new_application(uuid.uuid4()), new_application(uuid.uuid4())
    await publish(TOPIC, "submitted", {**waiting.data("submitted"), "agency_id": str(slow)})
    await wait_for(lambda: receiver.endpoints["slow"].held == 1, "the slow endpoint's request")

    started = time.monotonic()
    sent = [
        await publish(TOPIC, kind, {**flowing.data(kind), "agency_id": str(quick)})
        for kind in JOURNEY[:2]
    ]
    await wait_for(lambda: len(receiver.of("quick")) == 1 + len(sent), "the other's deliveries")
    elapsed = time.monotonic() - started
    # Before, a round waited for its slowest attempt: nothing else moved until it timed out.
    assert elapsed < settings.webhooks_read_timeout, f"{elapsed:.1f} s"
    assert [e["headers"]["webhook-id"] for e in receiver.of("quick")[1:]] == [s.id for s in sent]
    assert receiver.of("slow", "requests.request.submitted.v1") == []

    release.set()
    await wait_for(lambda: len(receiver.of("slow")) == 2, "the slow endpoint's delivery")
    assert receiver.endpoints["slow"].held == 1  # answered within its attempt, not tried again


async def _disabled(
    client: httpx.AsyncClient, wait_for: Eventually, headers: dict[str, str], made: dict[str, Any]
) -> dict[str, Any]:
    async def disabled() -> dict[str, Any] | None:
        found = (await client.get(f"/api/v1/subscriptions/{made['id']}", headers=headers)).json()
        return found if found["status"] == "disabled" else None

    return dict(await wait_for(disabled, "the subscription disabled by 410"))


async def _told(
    client: httpx.AsyncClient, wait_for: Eventually, headers: dict[str, str], times: int = 1
) -> list[dict[str, Any]]:
    """The person's messages about a disabled subscription, once `times` of them are in the
    inbox and their emails handed to the SMTP server."""

    async def told() -> list[dict[str, Any]] | None:
        items = (await client.get("/api/v1/notifications", headers=headers)).json()["items"]
        about = [i for i in items if i["event_type"] == "subscription_disabled"]
        sent = [i for i in about if i["email_status"] == "delivered"]
        return about if len(sent) >= times else None

    return list(await wait_for(told, "the owner's message and email"))


def _mail_to(mail_sink: MailSink, address: str) -> list[EmailMessage]:
    return [m for m in mail_sink.messages() if m["To"] == address]


async def test_an_agency_systems_endpoint_answering_410_is_disabled_and_its_officers_told_once(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    receiver: Receiver,
    publish: Publish,
    register: Register,
    mail_sink: MailSink,
    wait_for: Eventually,
    new_application: Callable[[uuid.UUID], Application],
) -> None:
    agency = uuid.uuid4()
    address = f"officer-{uuid.uuid4().hex[:8]}@example.kz"
    officer = await register(email=address, roles=("officer",), agency_id=agency)
    # A colleague who takes no email, and an officer of another agency.
    colleague_address = f"officer-{uuid.uuid4().hex[:8]}@example.kz"
    colleague = await register(email=colleague_address, roles=("officer",), agency_id=agency)
    stranger = f"officer-{uuid.uuid4().hex[:8]}@example.kz"
    await register(email=stranger, roles=("officer",), agency_id=uuid.uuid4())
    officer_headers = issuer.headers(sub=officer, roles=["officer"], agency_id=agency)
    colleague_headers = issuer.headers(sub=colleague, roles=["officer"], agency_id=agency)
    for headers, language, email in (
        (officer_headers, "ru", True),
        (colleague_headers, "en", False),
    ):
        await client.put(
            "/api/v1/me/notification-preferences",
            json={"language": language, "email": email},
            headers=headers,
        )
    headers = system(issuer, agency, "sys-gone")
    made = await active_subscription(client, receiver, wait_for, headers, "gone")
    # Every request's event is answered 410: one disabling, however many answers say so.
    receiver.endpoints["gone"].answers = [410] * 3
    await asyncio.gather(
        *(
            publish(TOPIC, "submitted", {**a.data("submitted"), "agency_id": str(agency)})
            for a in [new_application(uuid.uuid4()) for _ in range(3)]
        )
    )
    found = await _disabled(client, wait_for, headers, made)
    assert found["disabled_reason"] == "The endpoint answered 410 Gone"

    [message] = await _told(client, wait_for, officer_headers)
    assert message["request_id"] is None
    assert message["title"] == "Подписка на вебхуки для 127.0.0.1 отключена"
    assert made["url"] in message["body"]
    assert "410 Gone" in message["body"]
    assert f"PATCH http://localhost:8000/api/v1/subscriptions/{made['id']}" in message["body"]
    [mail] = _mail_to(mail_sink, address)
    assert mail["Subject"] == message["title"]
    assert mail["Message-ID"]
    text_part, html_part = (mail.get_body((kind,)) for kind in ("plain", "html"))
    assert text_part is not None
    assert html_part is not None
    for part in (text_part.get_content(), html_part.get_content()):
        assert made["url"] in part
        assert made["secret"] not in part
    # Told in the same transaction: in the colleague's inbox, in English, not emailed.
    [inboxed] = (await client.get("/api/v1/notifications", headers=colleague_headers)).json()[
        "items"
    ]
    assert inboxed["title"] == "Webhook subscription to 127.0.0.1 disabled"
    assert inboxed["email_status"] is None
    assert _mail_to(mail_sink, colleague_address) == []
    assert _mail_to(mail_sink, stranger) == []


async def test_an_admin_is_told_each_time_the_portal_disables_their_subscription(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    receiver: Receiver,
    publish: Publish,
    register: Register,
    mail_sink: MailSink,
    wait_for: Eventually,
    new_application: Callable[[uuid.UUID], Application],
) -> None:
    address = f"admin-{uuid.uuid4().hex[:8]}@example.kz"
    admin = await register(email=address, roles=("admin",))
    headers = issuer.headers(sub=admin, roles=["admin"])
    made = await active_subscription(client, receiver, wait_for, headers, "admin")
    path = f"/api/v1/subscriptions/{made['id']}"
    receiver.endpoints["admin"].answers = [410]
    application = new_application(uuid.uuid4())
    await publish(TOPIC, "submitted", application.data("submitted"))
    found = await _disabled(client, wait_for, headers, made)
    [message] = await _told(client, wait_for, headers)
    # An admin's default language is Kazakh; email is on for staff until they choose.
    assert message["title"] == "127.0.0.1 үшін вебхук жазылымы өшірілді"
    [first] = _mail_to(mail_sink, address)

    resumed = await client.patch(
        path, json={"status": "active"}, headers={**headers, "If-Match": f'"{found["version"]}"'}
    )
    assert resumed.status_code == 200
    await wait_for(
        lambda: len(receiver.of("admin", "portal.subscription.validation.v1")) == 2,
        "the re-enabled subscription validated again",
    )
    receiver.endpoints["admin"].answers = [410]
    await publish(TOPIC, "accepted", application.data("accepted"))
    await _disabled(client, wait_for, headers, made)
    # Disabled again, told again: one message per disabling, each its own email.
    assert len(await _told(client, wait_for, headers, times=2)) == 2
    emails = _mail_to(mail_sink, address)
    assert len(emails) == 2
    assert len({m["Message-ID"] for m in emails}) == 2
    assert first["Message-ID"] in {m["Message-ID"] for m in emails}


async def test_a_failed_delivery_shows_in_the_log_and_is_recovered_once_asked(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    receiver: Receiver,
    publish: Publish,
    wait_for: Eventually,
    new_application: Callable[[uuid.UUID], Application],
) -> None:
    application = new_application(uuid.uuid4())
    agency = uuid.UUID(application.data("draft")["agency_id"])
    headers = system(issuer, agency, "sys-down")
    made = await active_subscription(client, receiver, wait_for, headers, "down")
    path = f"/api/v1/subscriptions/{made['id']}"
    # Down for the whole (test-sized) schedule: the first attempt and seven retries.
    receiver.endpoints["down"].answers = [503] * 8
    before = (await client.get(f"{path}/deliveries", headers=headers)).json()["items"][0]
    sent = await publish(TOPIC, "submitted", application.data("submitted"))

    async def failed() -> dict[str, Any] | None:
        log = (await client.get(f"{path}/deliveries", headers=headers)).json()["items"]
        return next((d for d in log if d["event_id"] == sent.id and d["status"] == "failed"), None)

    entry = await wait_for(failed, "the delivery given up")
    assert entry["attempts"] == 8
    assert entry["last_status_code"] == 503
    assert entry["latency_ms"] is not None
    assert receiver.of("down", sent.type) == []

    recovered = await client.post(
        f"{path}/recover", json={"since": before["created_at"]}, headers=headers
    )
    assert recovered.status_code == 202
    assert recovered.json() == {"recovered": 1}
    await wait_for(lambda: receiver.of("down", sent.type), "the recovered delivery")

    async def delivered() -> bool:
        log = (await client.get(f"{path}/deliveries", headers=headers)).json()["items"]
        return any(d["id"] == entry["id"] and d["status"] == "delivered" for d in log)

    await wait_for(delivered, "the recovered delivery recorded as delivered")

    again = await client.post(f"{path}/deliveries/{entry['id']}/retry", headers=headers)
    assert again.status_code == 202
    await wait_for(lambda: len(receiver.of("down", sent.type)) == 2, "the resent delivery")
    assert {d["headers"]["webhook-id"] for d in receiver.of("down", sent.type)} == {sent.id}
    missing = await client.post(f"{path}/deliveries/{uuid.uuid4()}/retry", headers=headers)
    assert missing.status_code == 404


async def test_after_a_rotation_both_secrets_verify_each_delivery(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    receiver: Receiver,
    publish: Publish,
    wait_for: Eventually,
    new_application: Callable[[uuid.UUID], Application],
) -> None:
    application = new_application(uuid.uuid4())
    agency = uuid.UUID(application.data("draft")["agency_id"])
    headers = system(issuer, agency, "sys-rotating")
    made = await active_subscription(client, receiver, wait_for, headers, "rot")
    old = made["secret"]
    rotated = await client.post(
        f"/api/v1/subscriptions/{made['id']}/rotate-secret", headers=headers
    )
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new.startswith("whsec_")
    assert new != old
    receiver.endpoints["rot"].secret = new
    sent = await publish(TOPIC, "submitted", application.data("submitted"))
    [delivered] = await wait_for(lambda: receiver.of("rot", sent.type), "the signed delivery")
    assert len(delivered["headers"]["webhook-signature"].split(" ")) == 2
    # A receiver still holding the old secret verifies it too.
    Webhook(old).verify(delivered["body"], delivered["headers"])
    stranger = await client.post(
        f"/api/v1/subscriptions/{made['id']}/rotate-secret",
        headers=system(issuer, agency, "sys-other"),
    )
    assert stranger.status_code == 404


@contextmanager
def settings_changed(app: FastAPI, **changes: Any) -> Iterator[None]:
    """The running app's settings with `changes`, for one test (the worker reads them anew
    every round)."""
    before = app.state.settings
    app.state.settings = before.model_copy(update=changes)
    try:
        yield
    finally:
        app.state.settings = before


async def test_an_endpoint_failing_everything_for_long_is_disabled_and_can_come_back(
    app: FastAPI,
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    receiver: Receiver,
    publish: Publish,
    wait_for: Eventually,
    new_application: Callable[[uuid.UUID], Application],
) -> None:
    application = new_application(uuid.uuid4())
    agency = uuid.UUID(application.data("draft")["agency_id"])
    headers = system(issuer, agency, "sys-failing")
    made = await active_subscription(client, receiver, wait_for, headers, "failing")
    path = f"/api/v1/subscriptions/{made['id']}"
    receiver.endpoints["failing"].answers = [500] * 1000
    with settings_changed(app, webhooks_disable_after_seconds=0.2):
        sent = await publish(TOPIC, "submitted", application.data("submitted"))

        async def disabled() -> dict[str, Any] | None:
            found = (await client.get(path, headers=headers)).json()
            return found if found["status"] == "disabled" else None

        found = await wait_for(disabled, "the failing endpoint disabled")
    assert "failed since" in found["disabled_reason"]

    receiver.endpoints["failing"].answers = []
    resumed = await client.patch(
        path, json={"status": "active"}, headers={**headers, "If-Match": f'"{found["version"]}"'}
    )
    assert resumed.json()["status"] == "pending"
    assert resumed.json()["disabled_reason"] is None
    # Validated again, then the event it missed arrives: nothing was lost.
    await wait_for(lambda: receiver.of("failing", sent.type), "the held delivery")
    assert (await client.get(path, headers=headers)).json()["status"] == "active"


async def test_an_outage_across_many_requests_loses_nothing_and_keeps_each_order(
    app: FastAPI,
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    receiver: Receiver,
    publish: Publish,
    wait_for: Eventually,
    new_application: Callable[[uuid.UUID], Application],
) -> None:
    """Acceptance 2: the receiver answers 503 while 2,000 events of 200 requests arrive,
    then recovers; every event arrives once (by `webhook-id`), in order per request."""
    requests, per_request = 200, 10
    agency = uuid.uuid4()
    headers = system(issuer, agency, "sys-outage")
    await active_subscription(client, receiver, wait_for, headers, "outage")
    endpoint = receiver.endpoints["outage"]
    endpoint.down = True
    kinds = ["submitted"] + ["resubmitted"] * (per_request - 1)
    applications = [new_application(uuid.uuid4()) for _ in range(requests)]
    sent: dict[str, list[str]] = {str(a.id): [] for a in applications}
    # A schedule that outlasts the outage, as the real one (days) does.
    with settings_changed(app, webhooks_retry_seconds=[0.5] * 1000):
        for kind in kinds:
            # Each request's next event once its previous one is on the broker (so in
            # order); the 200 requests' events at once.
            published = await asyncio.gather(
                *(
                    publish(TOPIC, kind, {**a.data(kind), "agency_id": str(agency)})
                    for a in applications
                )
            )
            for application, event in zip(applications, published, strict=True):
                sent[str(application.id)].append(event.id)

        async def all_recorded() -> bool:
            async with app.state.engine.connect() as conn:
                count = await conn.scalar(text("SELECT count(*) FROM webhook_deliveries"))
            return bool(count == 1 + requests * per_request)

        await wait_for(all_recorded, "every event recorded", within=120)
        endpoint.down = False

        def all_arrived() -> bool:
            return len(receiver.of("outage")) >= 1 + requests * per_request

        await wait_for(all_arrived, "every event delivered", within=120)
    events = receiver.of("outage")[1:]
    ids = [e["headers"]["webhook-id"] for e in events]
    assert len(ids) == len(set(ids)) == requests * per_request
    received: dict[str, list[str]] = {}
    for e in events:
        received.setdefault(e["headers"]["ce-subject"], []).append(e["headers"]["webhook-id"])
    assert received == sent
