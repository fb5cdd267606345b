"""The directory's cursors cannot be edited or moved between lists, and its writes read
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

AGENCIES = "/api/v1/agencies"
Register = Callable[..., Awaitable[dict[str, Any]]]


def assert_problem_type(response: httpx.Response, status: int, type_uri: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == type_uri


async def test_an_edited_cursor_is_refused(client: httpx.AsyncClient, register: Register) -> None:
    for code in ("BKR-A", "BKR-B", "BKR-C"):
        await register(code)
    cursor = (await client.get(AGENCIES, params={"limit": 1})).json()["next_cursor"]
    assert payload(cursor)[1:] == ["BKR-A"]
    skipped = await client.get(AGENCIES, params={"limit": 1, "cursor": forged(cursor, "BKR-B")})
    assert_problem_type(skipped, 400, INVALID_CURSOR)
    # A key of another type under the issued tag (a boolean where the code belongs).
    retyped = await client.get(AGENCIES, params={"cursor": forged(cursor, True)})
    assert_problem_type(retyped, 400, INVALID_CURSOR)
    honest = await client.get(AGENCIES, params={"limit": 1, "cursor": cursor})
    assert [a["code"] for a in honest.json()["items"]] == ["BKR-B"]


async def test_a_cursor_of_another_list_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register
) -> None:
    agency = await register("BKR-A")
    await register("BKR-B")
    url = f"{AGENCIES}/{agency['id']}"
    await client.post(f"{url}/deactivate", headers=admin)
    agencies = (await client.get(AGENCIES, params={"limit": 1})).json()["next_cursor"]
    audit = (await client.get(f"{url}/audit", params={"limit": 1}, headers=admin)).json()
    moved = await client.get(f"{url}/audit", params={"cursor": agencies}, headers=admin)
    assert_problem_type(moved, 400, INVALID_CURSOR)
    back = await client.get(AGENCIES, params={"cursor": audit["next_cursor"]})
    assert_problem_type(back, 400, INVALID_CURSOR)


async def test_writes_read_if_match_strongly_with_lists_and_star(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register
) -> None:
    agency = await register()
    url = f"{AGENCIES}/{agency['id']}"
    change = {"city": "Astana"}

    weak = await client.patch(url, json=change, headers={**admin, "If-Match": 'W/"1"'})
    assert_problem_type(weak, 412, PRECONDITION_FAILED)
    for malformed in ("1", '"1" "2"', "W/1"):
        refused = await client.patch(url, json=change, headers={**admin, "If-Match": malformed})
        assert_problem_type(refused, 400, INVALID_PRECONDITION)
    # The body's version and If-Match must agree when both are sent.
    disagree = await client.patch(
        url, json={**change, "version": 1}, headers={**admin, "If-Match": '"2"'}
    )
    assert_problem_type(disagree, 400, INVALID_PRECONDITION)

    listed = await client.patch(url, json=change, headers={**admin, "If-Match": '"9", "1"'})
    assert listed.status_code == 200, listed.text
    assert listed.headers["ETag"] == '"2"'
    anything = await client.patch(
        url, json={"city": "Baikonur"}, headers={**admin, "If-Match": "*"}
    )
    assert (anything.status_code, anything.json()["version"]) == (200, 3)

    weak_deactivate = await client.post(f"{url}/deactivate", headers={**admin, "If-Match": 'W/"3"'})
    assert_problem_type(weak_deactivate, 412, PRECONDITION_FAILED)
    deactivated = await client.post(f"{url}/deactivate", headers={**admin, "If-Match": '"3"'})
    assert deactivated.json()["status"] == "inactive"
    stale_activate = await client.post(f"{url}/activate", headers={**admin, "If-Match": '"3"'})
    assert_problem_type(stale_activate, 412, PRECONDITION_FAILED)
    activated = await client.post(f"{url}/activate", headers={**admin, "If-Match": '"1", "4"'})
    assert activated.json()["status"] == "active"
