"""The workflow through the API: every allowed transition, every one refused by status,
role or ownership, optimistic concurrency, and who may see a request at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from service_requests.workflow import TRANSITIONS, Status

if TYPE_CHECKING:
    from tests.conftest import Parties

FIELDS: dict[str, dict[str, Any]] = {
    "accept": {},
    "request_info": {"comment": "Attach a readable copy of the passport"},
    "resubmit": {
        "form_data": {
            "purpose": "study",
            "arrival_date": "2026-12-02",
            "passport_number": "N7654321",
        }
    },
    "approve": {"comment": "All in order"},
    "reject": {"reason_code": "false-information", "comment": "The passport is not valid"},
    "complete": {"result": "Registration certificate BKR-77"},
    "cancel": {"comment": "Applied by mistake"},
}
# The path from a fresh submission to each status, through allowed actions only.
PATHS: dict[Status, list[str]] = {
    Status.submitted: [],
    Status.in_review: ["accept"],
    Status.needs_info: ["accept", "request_info"],
    Status.approved: ["accept", "approve"],
    Status.rejected: ["accept", "reject"],
    Status.completed: ["accept", "approve", "complete"],
    Status.cancelled: ["cancel"],
}


def rightful(parties: Parties, action: str) -> dict[str, str]:
    """The headers of whoever the contract lets take `action`."""
    officer = TRANSITIONS[action].actor == "officer"
    return parties.officer() if officer else parties.resident()


async def request_in(parties: Parties, status: Status) -> dict[str, Any]:
    request = await parties.submit()
    for action in PATHS[status]:
        response = await parties.act(
            request["id"], rightful(parties, action), action, **FIELDS[action]
        )
        assert response.status_code == 200, response.text
        request = response.json()
    assert request["status"] == status
    return request


@pytest.mark.parametrize(
    ("action", "source"),
    [(a, s) for a, t in TRANSITIONS.items() for s in sorted(t.sources)],
)
async def test_every_allowed_transition(
    client: httpx.AsyncClient, parties: Parties, action: str, source: Status
) -> None:
    request = await request_in(parties, source)
    response = await parties.act(request["id"], rightful(parties, action), action, **FIELDS[action])
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["status"] == TRANSITIONS[action].target
    assert after["version"] == request["version"] + 1
    assert response.headers["etag"] == f'"{after["version"]}"'

    history = await client.get(
        f"/api/v1/requests/{request['id']}/history", headers=parties.resident()
    )
    last = history.json()["items"][-1]
    assert last["action"] == action
    assert (last["from_status"], last["to_status"]) == (source, after["status"])
    assert last["comment"] == FIELDS[action].get("comment")
    assert last["actor_role"] == TRANSITIONS[action].actor


async def test_a_whole_life_is_kept_in_the_history(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    request = await parties.submit()
    steps = ["accept", "request_info", "resubmit", "approve", "complete"]
    for action in steps:
        response = await parties.act(
            request["id"], rightful(parties, action), action, **FIELDS[action]
        )
        assert response.status_code == 200, response.text
    final = response.json()
    assert final["status"] == "completed"
    assert final["result"] == FIELDS["complete"]["result"]
    assert final["form_data"] == FIELDS["resubmit"]["form_data"]
    history = (
        await client.get(f"/api/v1/requests/{request['id']}/history", headers=parties.officer())
    ).json()["items"]
    assert [h["action"] for h in history] == ["submit", *steps]
    assert [h["to_status"] for h in history] == [
        "submitted",
        "in_review",
        "needs_info",
        "in_review",
        "approved",
        "completed",
    ]
    assert [h["version"] for h in history] == [1, 2, 3, 4, 5, 6]
    assert history[0]["actor_id"] == str(parties.resident_id)
    assert all(h["at"] for h in history)


@pytest.mark.parametrize("status", list(Status))
async def test_actions_not_allowed_from_a_status_are_409(
    client: httpx.AsyncClient, parties: Parties, status: Status
) -> None:
    request = await request_in(parties, status)
    refused = [a for a, t in TRANSITIONS.items() if status not in t.sources]
    assert refused  # every status refuses something
    for action in refused:
        response = await parties.act(
            request["id"], rightful(parties, action), action, **FIELDS[action]
        )
        assert response.status_code == 409, (action, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert status in response.json()["detail"]
    unchanged = await client.get(f"/api/v1/requests/{request['id']}", headers=parties.resident())
    assert unchanged.json()["status"] == status
    assert unchanged.json()["version"] == request["version"]


WRONG_CALLERS: dict[str, tuple[Callable[[Parties], dict[str, str]], int]] = {
    "other resident": (lambda p: p.other_resident(), 404),
    "officer of another agency": (lambda p: p.other_officer(), 404),
    "system of another agency": (
        lambda p: p.agency_system(agency_id=p.other_agency_id),
        404,
    ),
    "admin": (lambda p: p.admin(), 403),
}


@pytest.mark.parametrize("action", list(TRANSITIONS))
async def test_actions_refused_by_role_and_ownership(
    client: httpx.AsyncClient, parties: Parties, action: str
) -> None:
    source = min(TRANSITIONS[action].sources)
    request = await request_in(parties, source)
    callers = dict(WRONG_CALLERS)
    if TRANSITIONS[action].actor == "officer":
        callers["the applicant"] = (lambda p: p.resident(), 403)
        callers["system without requests:write"] = (
            lambda p: p.agency_system(scope="requests:read"),
            403,
        )
    else:
        callers["officer of the agency"] = (lambda p: p.officer(), 403)
        callers["the agency's system"] = (lambda p: p.agency_system(), 403)
    for who, (headers, status) in callers.items():
        response = await parties.act(request["id"], headers(parties), action, **FIELDS[action])
        assert response.status_code == status, (who, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    unchanged = await client.get(f"/api/v1/requests/{request['id']}", headers=parties.resident())
    assert unchanged.json()["version"] == request["version"]


async def test_the_agency_system_with_write_scope_takes_officer_actions(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    request = await parties.submit()
    response = await parties.act(request["id"], parties.agency_system(), "accept")
    assert response.status_code == 200
    history = (
        await client.get(f"/api/v1/requests/{request['id']}/history", headers=parties.officer())
    ).json()["items"]
    assert (history[-1]["actor_id"], history[-1]["actor_role"]) == ("agency-demo", "agency_system")


async def test_others_get_404_for_a_request_they_may_not_see(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    request = await parties.submit()
    for headers in (parties.other_resident(), parties.other_officer()):
        for path in ("", "/history"):
            response = await client.get(f"/api/v1/requests/{request['id']}{path}", headers=headers)
            assert response.status_code == 404
            assert response.headers["content-type"] == "application/problem+json"
    for headers in (parties.resident(), parties.officer(), parties.admin()):
        assert (await client.get(f"/api/v1/requests/{request['id']}", headers=headers)).is_success


async def test_a_stale_if_match_is_412_and_a_current_one_passes(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    request = await parties.submit()
    url = f"/api/v1/requests/{request['id']}/actions"
    first = await client.post(
        url, json={"action": "accept"}, headers={**parties.officer(), "If-Match": '"1"'}
    )
    assert first.status_code == 200
    # A second officer still holding version 1 is told someone acted first.
    stale = await client.post(
        url,
        json={"action": "reject", "reason_code": "false-information"},
        headers={**parties.officer(), "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    by_body = await client.post(
        url, json={"action": "approve", "version": 1}, headers=parties.officer()
    )
    assert by_body.status_code == 412
    current = await client.post(
        url,
        json={"action": "approve"},
        headers={**parties.officer(), "If-Match": first.headers["etag"]},
    )
    assert current.status_code == 200
    assert current.json()["status"] == "approved"


async def test_reject_needs_a_refusal_ground_of_the_service(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    request = await request_in(parties, Status.in_review)
    response = await parties.act(request["id"], parties.officer(), "reject", reason_code="bored")
    assert response.status_code == 422
    assert "incomplete-documents" in response.json()["detail"]
    missing = await parties.act(request["id"], parties.officer(), "reject")
    assert missing.status_code == 422
    ok = await parties.act(
        request["id"], parties.officer(), "reject", reason_code="incomplete-documents"
    )
    assert ok.json()["reason_code"] == "incomplete-documents"


async def test_resubmitted_form_is_checked_and_unknown_actions_refused(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    request = await request_in(parties, Status.needs_info)
    bad = await parties.act(
        request["id"], parties.resident(), "resubmit", form_data={"purpose": "work"}
    )
    assert bad.status_code == 422
    assert any(e["location"] == "form_data" for e in bad.json()["errors"])
    unknown = await parties.act(request["id"], parties.resident(), "escalate")
    assert unknown.status_code == 422
    sneaky = await parties.act(request["id"], parties.officer(), "accept", status="approved")
    assert sneaky.status_code == 422


async def test_if_match_is_read_as_rfc_9110_has_it(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    request = await parties.submit()
    url = f"/api/v1/requests/{request['id']}/actions"
    officer = parties.officer()
    for malformed in ("1", "W/1", '"1', "'1'"):
        response = await client.post(
            url, json={"action": "accept"}, headers={**officer, "If-Match": malformed}
        )
        assert response.status_code == 400, (malformed, response.text)
        assert response.json()["type"].endswith("invalid-precondition")
    # If-Match compares strongly: a weak tag never matches.
    weak = await client.post(
        url, json={"action": "accept"}, headers={**officer, "If-Match": 'W/"1"'}
    )
    assert weak.status_code == 412
    # The body's version and If-Match must agree.
    disagree = await client.post(
        url, json={"action": "accept", "version": 2}, headers={**officer, "If-Match": '"1"'}
    )
    assert disagree.status_code == 400
    unchanged = await client.get(f"/api/v1/requests/{request['id']}", headers=officer)
    assert unchanged.json()["version"] == 1
    listed = await client.post(
        url, json={"action": "accept"}, headers={**officer, "If-Match": '"7", "1"'}
    )
    assert listed.status_code == 200
    anything = await client.post(
        url, json={"action": "approve"}, headers={**officer, "If-Match": "*"}
    )
    assert anything.status_code == 200
