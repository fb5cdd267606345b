"""Changing agencies: optimistic concurrency, deactivation rules, the audit trail, who may write."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from portal_testing.cursors import INVALID_PRECONDITION, PRECONDITION_FAILED
from portal_testing.service import TestIssuer

Register = Callable[..., Awaitable[dict[str, Any]]]
PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


async def test_patch_needs_to_say_which_version_it_changes(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register
) -> None:
    agency = await register()
    url = f"/api/v1/agencies/{agency['id']}"
    change = {"address": "Baikonur, Korolev street, 1"}

    assert "If-Match" in problem(await client.patch(url, json=change, headers=admin), 428)["detail"]
    garbage = await client.patch(url, json=change, headers={**admin, "If-Match": "yesterday"})
    assert problem(garbage, 400)["type"] == INVALID_PRECONDITION

    first = await client.patch(url, json=change, headers={**admin, "If-Match": '"1"'})
    assert first.status_code == 200
    assert first.headers["etag"] == '"2"'
    assert first.json()["version"] == 2
    assert first.json()["address"] == "Baikonur, Korolev street, 1"

    # A second administrator still holding version 1 does not overwrite the first's change.
    stale = await client.patch(
        url, json={"address": "somewhere else"}, headers={**admin, "If-Match": '"1"'}
    )
    refused = problem(stale, 412)
    assert (refused["type"], refused["current_version"]) == (PRECONDITION_FAILED, 2)
    assert 'version "2"' in refused["detail"]
    stale_body = await client.patch(
        url, json={"address": "somewhere else", "version": 1}, headers=admin
    )
    problem(stale_body, 412)
    assert (await client.get(url)).json()["address"] == "Baikonur, Korolev street, 1"

    by_body = await client.patch(url, json={"city": "Байқоңыр", "version": 2}, headers=admin)
    assert by_body.json()["version"] == 3
    forced = await client.patch(url, json={"kind": "division"}, headers={**admin, "If-Match": "*"})
    assert forced.json()["version"] == 4


async def test_patch_that_changes_nothing_keeps_the_version(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register
) -> None:
    agency = await register()
    same = await client.patch(
        f"/api/v1/agencies/{agency['id']}",
        json={"city": agency["city"], "name": agency["name"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert same.status_code == 200
    assert same.json() == agency


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"name": None}, 422),
        ({"code": "BKR-OTHER"}, 422),
        ({"status": "inactive"}, 422),
        ({"bin": "140740190075"}, 422),
        ({"timezone": "Mars/Olympus"}, 422),
        ({"parent_id": str(uuid.uuid4())}, 422),
        ({"version": 0}, 422),
    ],
)
async def test_invalid_changes_are_refused(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    register: Register,
    change: dict[str, Any],
    status: int,
) -> None:
    agency = await register()
    url = f"/api/v1/agencies/{agency['id']}"
    problem(await client.patch(url, json=change, headers={**admin, "If-Match": '"1"'}), status)
    assert (await client.get(url)).json() == agency


async def test_deactivating_a_parent_with_active_children_needs_cascade(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register
) -> None:
    ministry = await register("KZ-MVD", kind="ministry")
    police = await register("BKR-POLICE", parent_id=ministry["id"])
    migration = await register("BKR-MIGRATION", kind="division", parent_id=police["id"])
    deactivate = f"/api/v1/agencies/{ministry['id']}/deactivate"

    refused = problem(await client.post(deactivate, json={}, headers=admin), 409)
    assert "cascade" in refused["detail"]
    assert "BKR-POLICE" in refused["detail"]
    assert (await client.get(f"/api/v1/agencies/{police['id']}")).json()["status"] == "active"

    done = await client.post(deactivate, json={"cascade": True}, headers=admin)
    assert done.status_code == 200
    assert done.json()["status"] == "inactive"
    assert done.json()["version"] == 2
    for child in (police, migration):
        now = (await client.get(f"/api/v1/agencies/{child['id']}")).json()
        assert (now["status"], now["version"]) == ("inactive", 2)

    again = await client.post(deactivate, json={"cascade": True}, headers=admin)
    assert again.json()["version"] == 2, "deactivating an inactive agency changes nothing"

    # An agency cannot be active below an inactive one.
    orphan = await client.post(f"/api/v1/agencies/{migration['id']}/activate", headers=admin)
    assert "BKR-POLICE" in problem(orphan, 409)["detail"]

    reactivated = await client.post(f"/api/v1/agencies/{ministry['id']}/activate", headers=admin)
    assert (reactivated.json()["status"], reactivated.json()["version"]) == ("active", 3)
    police_back = await client.post(
        f"/api/v1/agencies/{police['id']}/activate", headers={**admin, "If-Match": '"2"'}
    )
    assert police_back.json()["status"] == "active"


async def test_registering_under_an_inactive_parent_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register
) -> None:
    ministry = await register("KZ-MVD", kind="ministry")
    await client.post(f"/api/v1/agencies/{ministry['id']}/deactivate", headers=admin)
    child = await client.post(
        "/api/v1/agencies",
        json={
            "code": "BKR-POLICE",
            "name": {"kk": "Полиция", "ru": "Полиция", "en": "Police"},
            "kind": "department",
            "parent_id": ministry["id"],
            "bin": "140940894910",
            "city": "Baikonur",
            "address": "Baikonur",
        },
        headers=admin,
    )
    assert "inactive" in problem(child, 409)["detail"]


async def test_stale_deactivation_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register
) -> None:
    agency = await register()
    await client.patch(
        f"/api/v1/agencies/{agency['id']}",
        json={"city": "Astana"},
        headers={**admin, "If-Match": '"1"'},
    )
    stale = await client.post(
        f"/api/v1/agencies/{agency['id']}/deactivate", headers={**admin, "If-Match": '"1"'}
    )
    problem(stale, 412)
    assert (await client.get(f"/api/v1/agencies/{agency['id']}")).json()["status"] == "active"


async def test_audit_trail_says_who_changed_what_and_when(
    client: httpx.AsyncClient, issuer: TestIssuer, register: Register
) -> None:
    agency = await register()
    editor = str(uuid.uuid4())
    headers = issuer.headers(sub=editor, roles=["admin"])
    url = f"/api/v1/agencies/{agency['id']}"
    await client.patch(url, json={"city": "Astana"}, headers={**headers, "If-Match": '"1"'})
    await client.post(f"{url}/deactivate", headers=headers)

    trail = (await client.get(f"{url}/audit", headers=headers)).json()
    entries = trail["items"]
    assert [(e["action"], e["version"]) for e in entries] == [
        ("registered", 1),
        ("updated", 2),
        ("deactivated", 3),
    ]
    assert entries[0]["changes"]["code"] == {"from": None, "to": "BKR-TEST"}
    assert entries[1]["changes"] == {"city": {"from": "Baikonur", "to": "Astana"}}
    assert entries[1]["actor"]["subject"] == editor
    assert entries[2]["changes"] == {"status": {"from": "active", "to": "inactive"}}
    assert all(e["at"] for e in entries)

    first = (await client.get(f"{url}/audit", params={"limit": 2}, headers=headers)).json()
    rest = (
        await client.get(f"{url}/audit", params={"cursor": first["next_cursor"]}, headers=headers)
    ).json()
    assert [e["version"] for e in first["items"] + rest["items"]] == [1, 2, 3]
    assert rest["next_cursor"] is None


WRITES = [
    ("POST", "/api/v1/agencies"),
    ("PATCH", "/api/v1/agencies/{id}"),
    ("POST", "/api/v1/agencies/{id}/deactivate"),
    ("POST", "/api/v1/agencies/{id}/activate"),
    ("GET", "/api/v1/agencies/{id}/audit"),
]


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_only_administrators_write(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    register: Register,
    method: str,
    path: str,
) -> None:
    agency = await register()
    url = path.format(id=agency["id"])
    body = {"city": "Astana"} if method == "PATCH" else {}
    anonymous = await client.request(method, url, json=body)
    assert problem(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    for roles in (["resident"], ["officer"], []):
        token = issuer.headers(roles=roles, agency_id=uuid.UUID(agency["id"]))
        problem(await client.request(method, url, json=body, headers=token), 403)
    forged = {"Authorization": "Bearer " + TestIssuer().token(roles=["admin"])}
    problem(await client.request(method, url, json=body, headers=forged), 401)
    assert (await client.get(f"/api/v1/agencies/{agency['id']}")).json() == agency
