"""Submitting an application: form validation, refused services, numbers, due dates and
Idempotency-Key retries (also ten at once)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from service_requests.calendar import Calendar

if TYPE_CHECKING:
    from tests.conftest import Parties, World


async def test_resident_submits_and_reads_back(client: httpx.AsyncClient, parties: Parties) -> None:
    created = await parties.submit()
    assert created["status"] == "submitted"
    assert created["version"] == 1
    assert created["service_version"] == 1
    assert created["agency_id"] == str(parties.agency_id)
    assert created["applicant_id"] == str(parties.resident_id)
    assert created["form_data"] == parties.good_form
    assert created["overdue"] is False
    year = datetime.now(UTC).year
    assert re.fullmatch(rf"BKR-{year}-\d{{6}}", created["number"])
    read = await client.get(f"/api/v1/requests/{created['id']}", headers=parties.resident())
    assert read.status_code == 200
    assert read.json() == created
    assert read.headers["etag"] == '"1"'


async def test_due_date_counts_working_days_in_the_agency_zone(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    before = datetime.now(UTC)
    created = await parties.submit()
    after = datetime.now(UTC)
    # The service's term is 5 working days; the agency is in Asia/Almaty.
    expected = {Calendar().due_date(t, 5, "Asia/Almaty") for t in (before, after)}
    assert date.fromisoformat(created["due_date"]) in expected


async def test_numbers_are_sequential_and_unique(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    numbers = [(await parties.submit())["number"] for _ in range(3)]
    assert len(set(numbers)) == 3
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == [1, 2, 3]


async def test_every_form_violation_is_listed(client: httpx.AsyncClient, parties: Parties) -> None:
    response = await client.post(
        "/api/v1/requests",
        json={
            "service_id": str(parties.service_id),
            "form_data": {
                "purpose": "tourism",
                "arrival_date": "not-a-date",
                "stay_days": 0,
                "extra": 1,
            },
        },
        headers=parties.resident(),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    locations = {e["location"] for e in problem["errors"]}
    assert {"form_data.purpose", "form_data.arrival_date", "form_data.stay_days"} <= locations
    messages = " ".join(e["message"] for e in problem["errors"])
    assert "passport_number" in messages  # the missing required field
    assert "extra" in messages  # the field the form does not have
    assert "not valid" in problem["detail"]


async def test_unknown_and_withdrawn_services_are_refused(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    unknown = await client.post(
        "/api/v1/requests",
        json={"service_id": str(uuid.uuid4()), "form_data": parties.good_form},
        headers=parties.resident(),
    )
    assert unknown.status_code == 422
    assert "unknown" in unknown.json()["detail"]

    await world.service(
        parties.agency_id, parties.service_id, status="withdrawn", kind="withdrawn", version=1
    )
    withdrawn = await client.post(
        "/api/v1/requests",
        json={"service_id": str(parties.service_id), "form_data": parties.good_form},
        headers=parties.resident(),
    )
    assert withdrawn.status_code == 422
    assert "withdrawn" in withdrawn.json()["detail"]


async def test_a_body_setting_workflow_fields_is_refused(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    response = await client.post(
        "/api/v1/requests",
        json={
            "service_id": str(parties.service_id),
            "form_data": parties.good_form,
            "status": "approved",
            "applicant_id": str(uuid.uuid4()),
        },
        headers=parties.resident(),
    )
    assert response.status_code == 422
    assert {"body.status", "body.applicant_id"} <= {
        e["location"] for e in response.json()["errors"]
    }


async def test_only_residents_submit(client: httpx.AsyncClient, parties: Parties) -> None:
    body = {"service_id": str(parties.service_id), "form_data": parties.good_form}
    anonymous = await client.post("/api/v1/requests", json=body)
    assert anonymous.status_code == 401
    officer = await client.post("/api/v1/requests", json=body, headers=parties.officer())
    assert officer.status_code == 403
    assert officer.headers["content-type"] == "application/problem+json"


async def test_a_retry_with_the_same_key_returns_the_same_request(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    first = await parties.submit(key="retry-1")
    headers = {**parties.resident(), "Idempotency-Key": "retry-1"}
    body = {"service_id": str(parties.service_id), "form_data": parties.good_form}
    again = await client.post("/api/v1/requests", json=body, headers=headers)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first

    other = await client.post(
        "/api/v1/requests",
        json={**body, "form_data": {**parties.good_form, "stay_days": 10}},
        headers=headers,
    )
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]

    # The key is the resident's own: another resident's same key is a new request.
    mine = await parties.submit(key="retry-1", who=parties.other_resident_id)
    assert mine["id"] != first["id"]


async def test_a_retry_is_answered_even_after_the_service_is_withdrawn(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    first = await parties.submit(key="late-retry")
    await world.service(
        parties.agency_id, parties.service_id, status="withdrawn", kind="withdrawn", version=1
    )
    body = {"service_id": str(parties.service_id), "form_data": parties.good_form}
    headers = {**parties.resident(), "Idempotency-Key": "late-retry"}
    again = await client.post("/api/v1/requests", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["number"] == first["number"]
    fresh = await client.post("/api/v1/requests", json=body, headers=parties.resident())
    assert fresh.status_code == 422


async def test_replays_take_no_number(client: httpx.AsyncClient, parties: Parties) -> None:
    first = await parties.submit(key="numbered")
    body = {"service_id": str(parties.service_id), "form_data": parties.good_form}
    headers = {**parties.resident(), "Idempotency-Key": "numbered"}
    for _ in range(3):
        assert (
            await client.post("/api/v1/requests", json=body, headers=headers)
        ).status_code == 200
    second = await parties.submit()
    # BKR-<year>-<NNNNNN>: the next submission has the very next number.
    assert int(second["number"].rsplit("-", 1)[1]) == int(first["number"].rsplit("-", 1)[1]) + 1


async def test_ten_concurrent_repeats_make_one_request_and_one_event(
    client: httpx.AsyncClient, parties: Parties, app: FastAPI
) -> None:
    headers = {**parties.resident(), "Idempotency-Key": "concurrent-key"}
    body = {"service_id": str(parties.service_id), "form_data": parties.good_form}
    responses = await asyncio.gather(
        *(client.post("/api/v1/requests", json=body, headers=headers) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    listed = await client.get("/api/v1/requests", headers=parties.resident())
    assert len(listed.json()["items"]) == 1
    async with app.state.engine.connect() as conn:
        events = (
            await conn.execute(
                text("SELECT count(*) FROM outbox WHERE type = 'requests.request.submitted.v1'")
            )
        ).scalar_one()
    assert events == 1


async def test_numbers_beyond_64_bits_are_kept_exactly(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    schema = {"type": "object", "properties": {"amount": {"type": "integer"}}}
    service_id = await world.service(parties.agency_id, form_schema=schema)
    amount = 123456789012345678901234567890
    body = f'{{"service_id": "{service_id}", "form_data": {{"amount": {amount}}}}}'
    headers = {
        **parties.resident(),
        "Content-Type": "application/json",
        "Idempotency-Key": "big-number",
    }
    created = await client.post("/api/v1/requests", content=body, headers=headers)
    assert created.status_code == 201, created.text
    read = await client.get(f"/api/v1/requests/{created.json()['id']}", headers=headers)
    assert f'"amount":{amount}' in read.text.replace(" ", "")
    again = await client.post("/api/v1/requests", content=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["id"] == created.json()["id"]


async def test_nan_and_infinity_are_refused_not_stored_as_null(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    # Python's JSON parser accepts these; JSON has no such numbers.
    for number in ("NaN", "Infinity", "-Infinity"):
        form = json.dumps(parties.good_form)[:-1] + f', "score": {number}}}'
        body = f'{{"service_id": "{parties.service_id}", "form_data": {form}}}'
        response = await client.post(
            "/api/v1/requests",
            content=body,
            headers={**parties.resident(), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert "NaN or Infinity" in response.json()["detail"]
    listed = await client.get("/api/v1/requests", headers=parties.resident())
    assert listed.json()["items"] == []


async def test_nul_characters_are_refused_not_stored(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    body = {"service_id": str(parties.service_id), "form_data": {"note\u0000": "x"}}
    response = await client.post("/api/v1/requests", json=body, headers=parties.resident())
    assert response.status_code == 422
    assert "NUL" in response.json()["detail"]
    created = await parties.submit()
    comment = await parties.act(created["id"], parties.resident(), "cancel", comment="a\u0000b")
    assert comment.status_code == 422
    key = await client.post(
        "/api/v1/requests",
        json={"service_id": str(parties.service_id), "form_data": parties.good_form},
        headers={**parties.resident(), "Idempotency-Key": "has space"},
    )
    assert key.status_code == 422


async def test_a_replay_answers_byte_for_byte_what_the_first_answer_did(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    service_id = await world.service(parties.agency_id, form_schema={"type": "object"})
    # Past the float range no double can hold it: refused at the edge (portal_shared.bodies),
    # so nothing is stored that a client reading it back with a double could not take.
    huge = f'{{"service_id": "{service_id}", "form_data": {{"huge": 1{"0" * 400}}}}}'
    refused = await client.post(
        "/api/v1/requests",
        content=huge,
        headers={**parties.resident(), "Content-Type": "application/json"},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["pointer"] == "/form_data/huge"
    # Past 2^64 and past 2^53, a float written as an exponent, keys out of order.
    form = (
        '{"zeta": 18446744073709551617, "beyond_53": 9007199254740993, "e": 1e2, '
        '"a": 1.5, "nested": {"b": [1, 2.0, "x"], "a": null}}'
    )
    body = f'{{"service_id": "{service_id}", "form_data": {form}}}'
    headers = {
        **parties.resident(),
        "Content-Type": "application/json",
        "Idempotency-Key": "exact-big",
    }
    first = await client.post("/api/v1/requests", content=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/api/v1/requests", content=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.content == first.content
    read = await client.get(f"/api/v1/requests/{first.json()['id']}", headers=headers)
    assert read.content == first.content
    assert '"zeta":18446744073709551617' in first.text.replace(" ", "")
    assert '"beyond_53":9007199254740993' in first.text.replace(" ", "")
