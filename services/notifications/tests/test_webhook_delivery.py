"""Webhooks delivered to a real receiver on loopback, which verifies every delivery with the
official `standardwebhooks` library: validation first, then a whole application's journey
in order; retries keep the `webhook-id`; 410 disables; each agency system gets only its
own agency's events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from portal_testing.service import TestIssuer

if TYPE_CHECKING:
    from tests.conftest import Application, Eventually, Publish, Receiver

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


async def test_an_endpoint_answering_410_is_disabled_at_once(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    receiver: Receiver,
    publish: Publish,
    wait_for: Eventually,
    new_application: Callable[[uuid.UUID], Application],
) -> None:
    application = new_application(uuid.uuid4())
    agency = uuid.UUID(application.data("draft")["agency_id"])
    headers = system(issuer, agency, "sys-gone")
    made = await active_subscription(client, receiver, wait_for, headers, "gone")
    receiver.endpoints["gone"].answers = [410]
    await publish(TOPIC, "submitted", application.data("submitted"))

    async def disabled() -> bool:
        found = await client.get(f"/api/v1/subscriptions/{made['id']}", headers=headers)
        return bool(found.json()["status"] == "disabled")

    await wait_for(disabled, "the subscription disabled by 410")


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
    """Acceptance 2, at a tenth of its size (2,000 events of 200 requests take minutes to
    consume on a shared test machine): the receiver answers 503 while 300 events of 30
    requests arrive, then recovers; every event arrives once, in order per request."""
    requests, per_request = 30, 10
    agency = uuid.uuid4()
    headers = system(issuer, agency, "sys-outage")
    await active_subscription(client, receiver, wait_for, headers, "outage")
    endpoint = receiver.endpoints["outage"]
    endpoint.answers = [503] * 1_000_000
    kinds = ["submitted"] + ["resubmitted"] * (per_request - 1)
    applications = [new_application(uuid.uuid4()) for _ in range(requests)]
    sent: dict[str, list[str]] = {}
    # A schedule that outlasts the outage, as the real one (days) does.
    with settings_changed(app, webhooks_retry_seconds=[0.5] * 1000):
        for kind in kinds:
            for application in applications:
                data = {**application.data(kind), "agency_id": str(agency)}
                event = await publish(TOPIC, kind, data)
                sent.setdefault(str(application.id), []).append(event.id)

        async def all_recorded() -> bool:
            async with app.state.engine.connect() as conn:
                count = await conn.scalar(text("SELECT count(*) FROM webhook_deliveries"))
            return bool(count == 1 + requests * per_request)

        await wait_for(all_recorded, "every event recorded", within=300)
        endpoint.answers = []

        def all_arrived() -> bool:
            return len(receiver.of("outage")) >= 1 + requests * per_request

        await wait_for(all_arrived, "every event delivered", within=300)
    events = receiver.of("outage")[1:]
    ids = [e["headers"]["webhook-id"] for e in events]
    assert len(ids) == len(set(ids)) == requests * per_request
    received: dict[str, list[str]] = {}
    for e in events:
        received.setdefault(e["headers"]["ce-subject"], []).append(e["headers"]["webhook-id"])
    assert received == sent
