"""API3:2023 Broken object property level authorization: callers cannot set properties that
are not theirs to set (mass assignment), and responses do not carry properties the caller
may not see (the application's answers, to administrators or other agencies)."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest

from tests.fuzz.bodies import GOOD_FORM, agency_body
from tests.fuzz.portal import World

SMUGGLED = {
    "status": "approved",
    "agency_id": str(uuid.uuid4()),
    "applicant_id": str(uuid.uuid4()),
    "id": str(uuid.uuid4()),
    "number": "BKR-2026-999999",
    "version": 99,
    "due_date": "2026-12-31",
}


@pytest.mark.parametrize("field", sorted(SMUGGLED))
def test_a_resident_cannot_set_what_the_portal_decides(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]], field: str
) -> None:
    before = requests_api.get("/api/v1/requests", headers=people["resident_a"]).json()["items"]
    response = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": GOOD_FORM, field: SMUGGLED[field]},
        headers=people["resident_a"],
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    after = requests_api.get("/api/v1/requests", headers=people["resident_a"]).json()["items"]
    assert len(after) == len(before), "a refused submission still created a request"


def test_an_action_cannot_carry_a_status(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    response = requests_api.post(
        f"/api/v1/requests/{world.request_b['id']}/actions",
        json={"action": "cancel", "status": "approved"},
        headers=people["resident_b"],
    )
    assert response.status_code == 422
    current = requests_api.get(
        f"/api/v1/requests/{world.request_b['id']}", headers=people["resident_b"]
    )
    assert current.json()["status"] == "submitted"


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "inactive"), ("id", str(uuid.uuid4())), ("version", 7), ("created_at", "x")],
)
def test_an_agency_cannot_be_registered_with_server_owned_fields(
    directory: httpx.Client, people: dict[str, dict[str, str]], field: str, value: object
) -> None:
    body = agency_body(f"BKR-MASS-{field.upper().replace('_', '')}")
    response = directory.post(
        "/api/v1/agencies", json={**body, field: value}, headers=people["admin"]
    )
    assert response.status_code == 422, response.text
    assert directory.get(f"/api/v1/agencies/by-code/{body['code']}").status_code == 404


@pytest.mark.parametrize("who", ["admin", "other_officer", "resident_b"])
def test_the_answers_of_an_application_stay_with_its_parties(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]], who: str
) -> None:
    # Only the applicant and the responsible agency read form_data; an administrator sees
    # the workflow without it, and outsiders see nothing at all (API1).
    page = requests_api.get("/api/v1/requests", params={"limit": 200}, headers=people[who])
    assert page.status_code == 200
    for item in page.json()["items"]:
        if item["applicant_id"] != str(people_subject(people[who])):
            assert item["form_data"] is None, f"{who} read another's form data"


def people_subject(headers: dict[str, str]) -> str:
    token = headers["Authorization"].removeprefix("Bearer ")
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])
