"""The catalog's cursors cannot be edited or moved between lists, and its draft edits read
If-Match as RFC 9110 has it (strong comparison, lists of tags, `*`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from portal_testing.cursors import (
    INVALID_CURSOR,
    INVALID_PRECONDITION,
    PRECONDITION_FAILED,
    forged,
    payload,
)

SERVICES = "/api/v1/services"
AgencyMaker = Callable[..., Awaitable[dict[str, Any]]]
BodyMaker = Callable[..., dict[str, Any]]


def assert_problem_type(response: httpx.Response, status: int, type_uri: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == type_uri


async def _published(client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]) -> str:
    created = await client.post(SERVICES, json=body, headers=admin)
    assert created.status_code == 201, created.text
    published = await client.post(f"{SERVICES}/{created.json()['id']}/publish", headers=admin)
    assert published.status_code == 200, published.text
    return str(created.json()["id"])


async def test_an_edited_cursor_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    for code in ("a-one", "b-two", "c-three"):
        await _published(client, admin, make_body(code, agency["id"]))
    first = (await client.get(SERVICES, params={"limit": "1"})).json()
    cursor = first["next_cursor"]
    assert payload(cursor)[1:] == ["a-one"]
    # Skipping ahead by editing the readable key: the tag was issued for "a-one".
    skipped = await client.get(SERVICES, params={"limit": "1", "cursor": forged(cursor, "b-two")})
    assert_problem_type(skipped, 400, INVALID_CURSOR)
    honest = await client.get(SERVICES, params={"limit": "1", "cursor": cursor})
    assert [s["code"] for s in honest.json()["items"]] == ["b-two"]


async def test_a_cursor_of_another_list_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    service_id = await _published(client, admin, make_body("a-one", agency["id"]))
    await _published(client, admin, make_body("b-two", agency["id"]))
    audit_url = f"{SERVICES}/{service_id}/audit"
    audit = (await client.get(audit_url, params={"limit": "1"}, headers=admin)).json()
    services = (await client.get(SERVICES, params={"limit": "1"})).json()
    # The audit's key is an integer, as the versions' is: only the listing tells them apart.
    versions = await client.get(
        f"{SERVICES}/{service_id}/versions", params={"cursor": audit["next_cursor"]}
    )
    assert_problem_type(versions, 400, INVALID_CURSOR)
    wrong = await client.get(audit_url, params={"cursor": services["next_cursor"]}, headers=admin)
    assert_problem_type(wrong, 400, INVALID_CURSOR)


async def test_draft_edits_read_if_match_strongly_with_lists_and_star(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    created = await client.post(
        SERVICES, json=make_body("birth-registration", agency["id"]), headers=admin
    )
    url = f"{SERVICES}/{created.json()['id']}"
    assert created.headers["ETag"] == '"1"'

    weak = await client.patch(
        url, json={"term_working_days": 2}, headers={**admin, "If-Match": 'W/"1"'}
    )
    assert_problem_type(weak, 412, PRECONDITION_FAILED)
    malformed = await client.patch(
        url, json={"term_working_days": 2}, headers={**admin, "If-Match": "1"}
    )
    assert_problem_type(malformed, 400, INVALID_PRECONDITION)

    listed = await client.patch(
        url, json={"term_working_days": 2}, headers={**admin, "If-Match": '"7", "1"'}
    )
    assert listed.status_code == 200, listed.text
    assert listed.headers["ETag"] == '"2"'
    anything = await client.patch(
        url, json={"term_working_days": 3}, headers={**admin, "If-Match": "*"}
    )
    assert anything.status_code == 200, anything.text
    assert anything.json()["term_working_days"] == 3

    stale = await client.post(f"{url}/publish", headers={**admin, "If-Match": '"2"'})
    assert_problem_type(stale, 412, PRECONDITION_FAILED)
    published = await client.post(f"{url}/publish", headers={**admin, "If-Match": '"3"'})
    assert published.status_code == 200, published.text
