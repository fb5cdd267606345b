"""A resident's application from registration to completion, through the gateway of the
real portal (every process, PostgreSQL and the broker as `make run` starts them):

a resident registers and signs in with code + PKCE; finds a service; applies. The
responsible agency's officer accepts and asks for information; the resident resubmits;
the officer approves and completes. An agency system reads the request's events from
Kafka with confluent-kafka (not aiokafka) and fetches the details with its
client-credentials token. An administrator publishes a new version of the service and
new applications use it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, cast

import httpx
from confluent_kafka import Consumer

from portal_testing.oidc import sign_in_with_pkce, valid_iin
from portal_testing.portal import Portal

SERVICE_CODE = "residence-registration"
# A one-page PDF, as a scan of a document would be (its content decides its type).
SCAN_PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n3 0 obj\n<< /Type /Page"
    b" /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R"
    b" /JSans 5 0 R >> >> >>\nendobj\n4 0 obj\n<< /Length 36 >>\nstream\n"
    b"BT /F1 24 Tf 72 720 Td (Hello) Tj ET\nendstream\nendobj\n5 0 obj\n<< /Type /Font"
    b" /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\nxref\n0 6\n0000000000 65535 f\r\n"
    b"0000000015 00000 n\r\n0000000064 00000 n\r\n0000000121 00000 n\r\n"
    b"0000000260 00000 n\r\n0000000346 00000 n\r\ntrailer\n<< /Size 6 /Root 1 0 R >>\n"
    b"startxref\n416\n%%EOF\n"
)


async def upload_required(
    client: httpx.AsyncClient, token: str, service: dict[str, Any]
) -> list[dict[str, str]]:
    """Upload a scan for each document the service requires; the `documents` to attach."""
    documents = []
    for kind in service["required_documents"]:
        uploaded = await client.post(
            "/api/v1/documents",
            files={"file": (f"{kind['code']}.pdf", SCAN_PDF, "application/pdf")},
            headers=bearer(token),
        )
        assert uploaded.status_code == 201, uploaded.text
        documents.append({"code": kind["code"], "document_id": uploaded.json()["id"]})
    return documents


WAIT = 60.0


def form(iin: str, building: str = "12") -> dict[str, Any]:
    return {
        "applicant_iin": iin,
        "owner_iin": iin,
        "address": {"street": "Korolev street", "building": building, "apartment": "4"},
        "move_in_date": "2026-11-20",
        "phone": "+77011234567",
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def act(
    client: httpx.AsyncClient, token: str, request: dict[str, Any], action: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/requests/{request['id']}/actions",
        json={"action": action, **fields},
        headers={**bearer(token), "If-Match": f'"{request["version"]}"'},
    )
    assert response.status_code == 200, f"{action}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


def agency_system_events(bootstrap: str, request_id: str, count: int) -> list[dict[str, Any]]:
    """Read the request's events as an agency system would, with librdkafka."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"agency-system-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(["requests.request"])
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT
    try:
        while len(found) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            value = message.value()
            if message.key() != request_id.encode() or value is None:
                continue
            headers = {
                name: raw.decode() if isinstance(raw, bytes) else str(raw)
                for name, raw in cast(list[tuple[str, bytes | str]], message.headers() or [])
            }
            found.append({"headers": headers, "data": json.loads(value)})
    finally:
        consumer.close()
    return found


async def test_a_resident_application_from_registration_to_completion(portal: Portal) -> None:
    iin = valid_iin(4000)
    async with httpx.AsyncClient(base_url=portal.url("gateway"), timeout=30) as web:
        registered = await web.post(
            "/api/v1/residents",
            json={
                "iin": iin,
                "given_name": "Aigerim",
                "family_name": "Sarsenova",
                "email": f"aigerim.{iin}@mail.kz",
                "phone": "+77011234567",
                "password": "Baikonur-Spring-2026",
            },
        )
        assert registered.status_code == 201, registered.text
        resident = (await sign_in_with_pkce(web, iin, "Baikonur-Spring-2026")).access_token
        me = await web.get("/api/v1/me", headers=bearer(resident))
        assert me.json()["iin"] == iin

        # Finding the service needs no token; applying does.
        found = await web.get("/api/v1/services", params={"q": "residence", "lang": "en"})
        assert found.status_code == 200
        service = next(s for s in found.json()["items"] if s["code"] == SERVICE_CODE)
        # Each required document is uploaded (streamed through the gateway), then attached.
        documents = await upload_required(web, resident, service)
        submitted = await web.post(
            "/api/v1/requests",
            json={"service_id": service["id"], "form_data": form(iin), "documents": documents},
            headers={**bearer(resident), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert submitted.status_code == 201, submitted.text
        request = submitted.json()
        assert request["status"] == "submitted"
        assert request["agency_id"] == service["agency_id"]
        assert request["number"].startswith("BKR-2026-")

    async with httpx.AsyncClient(base_url=portal.url("gateway"), timeout=30) as console:
        officer = (
            await sign_in_with_pkce(console, "officer-migration", "officer-demo-password")
        ).access_token
        request = await act(console, officer, request, "accept")
        request = await act(
            console, officer, request, "request_info", comment="Please give the apartment number"
        )
    async with httpx.AsyncClient(base_url=portal.url("gateway"), timeout=30) as web:
        request = await act(web, resident, request, "resubmit", form_data=form(iin, "12A"))
    async with httpx.AsyncClient(base_url=portal.url("gateway"), timeout=30) as console:
        request = await act(console, officer, request, "approve")
        request = await act(console, officer, request, "complete", result="Registered")
        assert request["status"] == "completed"
        history = await console.get(
            f"/api/v1/requests/{request['id']}/history", headers=bearer(officer)
        )
        assert [h["to_status"] for h in history.json()["items"]] == [
            "submitted",
            "in_review",
            "needs_info",
            "in_review",
            "approved",
            "completed",
        ]

    # The agency system hears every step from Kafka, then fetches the details it may see.
    kafka = f"127.0.0.1:{portal.port('kafka')}"
    events = await asyncio.to_thread(agency_system_events, kafka, request["id"], 6)
    assert [e["headers"]["ce_type"] for e in events] == [
        f"requests.request.{kind}.v1"
        for kind in (
            "submitted",
            "accepted",
            "info_requested",
            "resubmitted",
            "approved",
            "completed",
        )
    ]
    assert all(iin not in json.dumps(e) and "Sarsenova" not in json.dumps(e) for e in events)
    async with httpx.AsyncClient(base_url=portal.url("gateway"), timeout=30) as system:
        token = await system.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": "requests:read"},
            auth=("agency-demo", "agency-demo-secret"),
        )
        assert token.status_code == 200, token.text
        details = await system.get(
            f"/api/v1/requests/{request['id']}", headers=bearer(token.json()["access_token"])
        )
        assert details.status_code == 200, details.text
        assert details.json()["form_data"]["address"]["building"] == "12A"


async def test_a_new_version_of_a_service_is_used_by_new_applications(portal: Portal) -> None:
    iin = valid_iin(7000)
    async with httpx.AsyncClient(base_url=portal.url("gateway"), timeout=30) as client:
        await client.post(
            "/api/v1/residents",
            json={
                "iin": iin,
                "given_name": "Nurlan",
                "family_name": "Abenov",
                "email": f"nurlan.{iin}@mail.kz",
                "phone": "+77017654321",
                "password": "Korolev-Street-1957",
            },
        )
        resident = (await sign_in_with_pkce(client, iin, "Korolev-Street-1957")).access_token
        admin = (await sign_in_with_pkce(client, "admin", "admin-demo-password")).access_token
        services = await client.get("/api/v1/services", params={"q": "residence"})
        service = next(s for s in services.json()["items"] if s["code"] == SERVICE_CODE)
        draft = await client.get(f"/api/v1/services/{service['id']}/draft", headers=bearer(admin))
        assert draft.status_code == 200, draft.text
        edited = await client.patch(
            f"/api/v1/services/{service['id']}",
            json={"term_working_days": draft.json()["term_working_days"] + 2},
            headers={**bearer(admin), "If-Match": draft.headers["etag"]},
        )
        assert edited.status_code == 200, edited.text
        published = await client.post(
            f"/api/v1/services/{service['id']}/publish", headers=bearer(admin)
        )
        assert published.status_code == 200, published.text
        new_version = published.json()["version"]
        assert new_version > service["version"]

        # The requests service learns of the version over Kafka; then applications pin it.
        deadline = time.monotonic() + WAIT
        pinned = None
        while time.monotonic() < deadline:
            documents = await upload_required(client, resident, service)
            response = await client.post(
                "/api/v1/requests",
                json={"service_id": service["id"], "form_data": form(iin), "documents": documents},
                headers=bearer(resident),
            )
            assert response.status_code == 201, response.text
            pinned = response.json()["service_version"]
            if pinned == new_version:
                break
            await asyncio.sleep(0.5)
        assert pinned == new_version
