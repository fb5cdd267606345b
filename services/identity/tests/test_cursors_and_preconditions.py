"""Identity's cursors cannot be edited or moved between lists, and an administrator's change
to an account reads If-Match as RFC 9110 has it (strong comparison, lists of tags, `*`)."""

from __future__ import annotations

import httpx

from portal_testing.cursors import (
    INVALID_CURSOR,
    INVALID_PRECONDITION,
    PRECONDITION_FAILED,
    forged,
    payload,
)
from portal_testing.oidc import valid_iin

USERS = "/api/v1/users"
CLIENTS = "/api/v1/clients"


def assert_problem_type(response: httpx.Response, status: int, type_uri: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == type_uri


async def _resident(client: httpx.AsyncClient, serial: int) -> str:
    registered = await client.post(
        "/api/v1/residents",
        json={
            "iin": valid_iin(serial),
            "given_name": "Aliya",
            "family_name": "Nurlanova",
            "email": f"r{serial}@example.kz",
            "phone": "+77011234567",
            "password": "steppe-wind-2026",
        },
    )
    assert registered.status_code == 201, registered.text
    return str(registered.json()["id"])


async def _second_client(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    created = await client.post(
        CLIENTS,
        json={
            "client_id": "reports",
            "name": "Reports",
            "client_type": "confidential",
            "grant_types": ["client_credentials"],
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text


async def test_an_edited_cursor_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _resident(client, 1)
    await _resident(client, 40)
    first = (await client.get(USERS, params={"limit": 1}, headers=admin_headers)).json()
    cursor = first["next_cursor"]
    created_at, account_id = payload(cursor)[1:]
    assert account_id == first["items"][0]["id"]
    # The same position with the time moved a year back, under the tag issued for the original.
    earlier = str(int(created_at[:4]) - 1) + created_at[4:]
    edited = await client.get(
        USERS, params={"cursor": forged(cursor, earlier, account_id)}, headers=admin_headers
    )
    assert_problem_type(edited, 400, INVALID_CURSOR)
    honest = await client.get(USERS, params={"cursor": cursor}, headers=admin_headers)
    assert len(honest.json()["items"]) == 2


async def test_a_cursor_of_another_list_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _resident(client, 1)
    await _second_client(client, admin_headers)
    users = (await client.get(USERS, params={"limit": 1}, headers=admin_headers)).json()
    clients = (await client.get(CLIENTS, params={"limit": 1}, headers=admin_headers)).json()
    moved = await client.get(
        USERS, params={"cursor": clients["next_cursor"]}, headers=admin_headers
    )
    assert_problem_type(moved, 400, INVALID_CURSOR)
    back = await client.get(CLIENTS, params={"cursor": users["next_cursor"]}, headers=admin_headers)
    assert_problem_type(back, 400, INVALID_CURSOR)


async def test_account_changes_read_if_match_strongly_with_lists_and_star(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    url = f"{USERS}/{await _resident(client, 1)}"
    read = await client.get(url, headers=admin_headers)
    version = read.json()["version"]
    assert read.headers["ETag"] == f'"{version}"'

    weak = await client.patch(
        url, json={"given_name": "Aru"}, headers={**admin_headers, "If-Match": f'W/"{version}"'}
    )
    assert_problem_type(weak, 412, PRECONDITION_FAILED)
    malformed = await client.patch(
        url, json={"given_name": "Aru"}, headers={**admin_headers, "If-Match": str(version)}
    )
    assert_problem_type(malformed, 400, INVALID_PRECONDITION)
    assert (await client.get(url, headers=admin_headers)).json()["given_name"] == "Aliya"

    listed = await client.patch(
        url,
        json={"given_name": "Aru"},
        headers={**admin_headers, "If-Match": f'"{version + 5}", "{version}"'},
    )
    assert listed.status_code == 200, listed.text
    assert listed.headers["ETag"] == f'"{version + 1}"'
    stale = await client.patch(
        url, json={"given_name": "Dana"}, headers={**admin_headers, "If-Match": f'"{version}"'}
    )
    assert_problem_type(stale, 412, PRECONDITION_FAILED)
    anything = await client.patch(
        url, json={"given_name": "Dana"}, headers={**admin_headers, "If-Match": "*"}
    )
    assert anything.status_code == 200, anything.text
    assert anything.json()["given_name"] == "Dana"
    # Without If-Match the change is made as before: the precondition is optional here.
    plain = await client.patch(url, json={"family_name": "Serik"}, headers=admin_headers)
    assert plain.json()["version"] == version + 3
