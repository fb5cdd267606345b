"""Issue 19's acceptance journey across the real services: a resident registered at identity,
who reads Russian, applies; the officer accepts, asks for information, the resident
resubmits, the officer refuses on a ground of the published service. Identity's contact
event, the catalog's grounds and the requests service's events reach the notifications
service over the broker: three Russian messages in the inbox, three Russian emails at the
SMTP server naming the ground's Russian text; replaying every event sends nothing again."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from prometheus_client import REGISTRY

from portal_embedded.mail import MailSink
from portal_shared.kz import check_digit
from portal_testing.service import TestIssuer, client_for

# A bound, not a speed check: consumers joining their groups on a busy machine take a while.
WAIT = 90.0


async def eventually(check: Any, what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def new_iin() -> str:
    """A valid IIN of a woman born on 1 January 1990."""
    while True:
        first = "900101" + "4" + f"{random.randrange(10_000):04d}"
        digit = check_digit(first)
        if digit is not None:
            return first + str(digit)


AGENCY = {
    "name": {
        "kk": "Көші-қон қызметі",
        "ru": "Миграционная служба",
        "en": "Migration service",
    },
    "kind": "department",
    "bin": "140740190074",
    "city": "Baikonur",
    "address": "Baikonur, Korolev street 5",
    "timezone": "Asia/Qyzylorda",
    "working_hours": {"mon": {"open": "09:00", "close": "18:00", "breaks": []}},
    "contacts": {"phone": "+7 33622 4 11 00"},
}
GROUND_RU = "Недостоверность представленных документов"


def offering(code: str, agency_id: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": {
            "kk": "Тұрғылықты жері бойынша тіркеу",
            "ru": "Регистрация по месту жительства",
            "en": "Registration of residence",
        },
        "description": {"kk": "Тіркеу", "ru": "Регистрация", "en": "Registration"},
        "agency_id": agency_id,
        "term_working_days": 5,
        "fee": {"amount": 0, "currency": "KZT"},
        "result": {"kk": "Анықтама", "ru": "Справка", "en": "Certificate"},
        "required_documents": [],
        "refusal_grounds": [
            {
                "code": "false-documents",
                "text": {
                    "kk": "Ұсынылған құжаттардың дәйексіздігі",
                    "ru": GROUND_RU,
                    "en": "The documents submitted are not authentic",
                },
            }
        ],
        "channels": ["portal"],
        "form_schema": {
            "type": "object",
            "required": ["address"],
            "additionalProperties": False,
            "properties": {
                "address": {
                    "type": "string",
                    "minLength": 2,
                    "x-title": {"kk": "Мекенжай", "ru": "Адрес", "en": "Address"},
                }
            },
        },
    }


async def test_a_russian_reading_resident_is_told_three_times_in_russian_and_only_once(
    identity_app: FastAPI,
    directory_app: FastAPI,
    catalog_app: FastAPI,
    requests_app: FastAPI,
    notifications_app: FastAPI,
    portal_issuer: TestIssuer,
    portal_mail: MailSink,
    kafka_bootstrap: str,
) -> None:
    admin = portal_issuer.headers(roles=["admin"])
    code = f"BKR-NOTE-{uuid.uuid4().hex[:6].upper()}"
    address = f"aigerim-{uuid.uuid4().hex[:8]}@example.kz"
    async with (
        client_for(identity_app) as identity,
        client_for(directory_app) as directory,
        client_for(catalog_app) as catalog,
        client_for(requests_app) as requests,
        client_for(notifications_app) as notifications,
    ):
        agency = (
            await directory.post("/api/v1/agencies", json={"code": code, **AGENCY}, headers=admin)
        ).json()
        officer = portal_issuer.headers(roles=["officer"], agency_id=uuid.UUID(agency["id"]))

        async def service_accepted() -> Any:
            draft = await catalog.post(
                "/api/v1/services", json=offering(code.lower(), agency["id"]), headers=admin
            )
            if draft.status_code == 201:
                return draft.json()["id"]
            # Until the agency reaches the catalog's copy, it is refused as unknown.
            assert draft.json()["type"].endswith("agency-unavailable"), draft.text
            return None

        service_id = await eventually(service_accepted, "the catalog's copy of the agency")
        assert (
            await catalog.post(f"/api/v1/services/{service_id}/publish", headers=admin)
        ).status_code == 200

        registered = await identity.post(
            "/api/v1/residents",
            json={
                "iin": new_iin(),
                "given_name": "Айгерим",
                "family_name": "Сарсенова",
                "email": address,
                "phone": "+77001234567",
                "password": "a long enough demo password",
            },
        )
        assert registered.status_code == 201, registered.text
        resident = portal_issuer.headers(sub=registered.json()["id"], roles=["resident"])
        chosen = await notifications.put(
            "/api/v1/me/notification-preferences",
            json={"language": "ru", "email": True},
            headers=resident,
        )
        assert chosen.status_code == 200

        async def submitted() -> Any:
            response = await requests.post(
                "/api/v1/requests",
                json={"service_id": service_id, "form_data": {"address": "Abai avenue 7"}},
                headers=resident,
            )
            return response.json() if response.status_code == 201 else None

        request = await eventually(submitted, "the requests service's copy of the service")
        steps: list[tuple[dict[str, str], dict[str, Any]]] = [
            (officer, {"action": "accept"}),
            (officer, {"action": "request_info", "comment": "Укажите номер квартиры"}),
            (resident, {"action": "resubmit", "form_data": {"address": "Abai avenue 7, 12"}}),
            (
                officer,
                {"action": "reject", "reason_code": "false-documents", "comment": "Адрес неверен"},
            ),
        ]
        for headers, body in steps:
            acted = await requests.post(
                f"/api/v1/requests/{request['id']}/actions", json=body, headers=headers
            )
            assert acted.status_code == 200, acted.text

        async def delivered() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = (
                await notifications.get("/api/v1/notifications", headers=resident)
            ).json()["items"]
            done = len(items) == 3 and all(i["email_status"] == "delivered" for i in items)
            return items if done else None

        inbox = await eventually(delivered, "three messages, each emailed")
        assert [m["event_type"] for m in inbox] == ["rejected", "info_requested", "accepted"]
        assert inbox[0]["title"] == f"По заявке № {request['number']} отказано"
        assert GROUND_RU in inbox[0]["body"]
        assert "Укажите номер квартиры" in inbox[1]["body"]
        mails = [m for m in portal_mail.messages() if m["To"] == address]
        assert sorted(m["Subject"] for m in mails) == sorted(m["title"] for m in inbox)
        for mail in mails:
            plain = mail.get_body(("plain",))
            assert plain is not None
            body = plain.get_content()
            assert ("отказано" in mail["Subject"]) == (GROUND_RU in body)
            # Never the applicant's name or form contents.
            assert "Айгерим" not in body
            assert "Abai" not in body

        # The whole topic again, from the beginning, ids and all: nothing new.
        seen = _consumed(("duplicate", "ignored"))
        replayed = await _replay(kafka_bootstrap, "requests.request", request["id"])
        assert replayed == 5

        async def replay_seen() -> bool:
            return _consumed(("duplicate", "ignored")) >= seen + replayed

        await eventually(replay_seen, "the replayed events to be consumed")
        # A sender round after the replay, had it queued anything.
        await asyncio.sleep(0.3)
        again = (await notifications.get("/api/v1/notifications", headers=resident)).json()
        assert len(again["items"]) == 3
        assert len([m for m in portal_mail.messages() if m["To"] == address]) == 3


async def _replay(bootstrap: str, topic: str, key: str) -> int:
    """Publish again every message of `key` on `topic`, exactly as the broker holds it."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await reader.start()
    await producer.start()
    found: list[Any] = []
    try:
        await reader.topics()  # loads the metadata the partition list comes from
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or []]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        async with asyncio.timeout(WAIT):
            while [tp for tp in partitions if await reader.position(tp) < ends[tp]]:
                for records in (await reader.getmany(timeout_ms=200)).values():
                    found += [r for r in records if r.key == key.encode()]
        for record in sorted(found, key=lambda r: r.offset):
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await reader.stop()
        await producer.stop()
    return len(found)


def _consumed(outcomes: tuple[str, ...]) -> float:
    group = "flow.notifications.requests.request"
    return sum(
        REGISTRY.get_sample_value(
            "portal_events_consumed_total", {"group": group, "outcome": outcome}
        )
        or 0.0
        for outcome in outcomes
    )
