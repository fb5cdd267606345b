"""API6:2023 Unrestricted access to sensitive business flows: a submission repeated (by a
retrying client, or ten at once) makes one application, a key cannot be replayed for
another body, and a decided application cannot be decided again."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.fuzz.bodies import GOOD_FORM
from tests.fuzz.portal import Portal, World


def test_ten_simultaneous_repeats_make_one_application(
    portal: Portal, world: World, people: dict[str, dict[str, str]]
) -> None:
    key = f"fuzz-{uuid.uuid4()}"
    body = {"service_id": world.service_id, "form_data": GOOD_FORM}

    def submit(_: int) -> httpx.Response:
        with portal.client("requests") as client:
            return client.post(
                "/api/v1/requests",
                json=body,
                headers={**people["resident_a"], "Idempotency-Key": key},
            )

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(submit, range(10)))
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert all(
        r.headers.get("Idempotent-Replayed") == "true" for r in responses if r.status_code == 200
    )


def test_a_key_cannot_be_reused_for_another_application(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    headers = {**people["resident_a"], "Idempotency-Key": f"fuzz-{uuid.uuid4()}"}
    first = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": GOOD_FORM},
        headers=headers,
    )
    assert first.status_code == 201
    other = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": {**GOOD_FORM, "purpose": "study"}},
        headers=headers,
    )
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]


def test_keys_belong_to_their_resident(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    # Resident B guessing resident A's key gets an application of their own, not A's.
    key = f"fuzz-{uuid.uuid4()}"
    body = {"service_id": world.service_id, "form_data": GOOD_FORM}
    mine = requests_api.post(
        "/api/v1/requests", json=body, headers={**people["resident_a"], "Idempotency-Key": key}
    )
    theirs = requests_api.post(
        "/api/v1/requests", json=body, headers={**people["resident_b"], "Idempotency-Key": key}
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_cancelled_application_cannot_be_cancelled_or_accepted_again(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    created = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": GOOD_FORM},
        headers=people["resident_a"],
    ).json()
    path = f"/api/v1/requests/{created['id']}/actions"
    assert (
        requests_api.post(path, json={"action": "cancel"}, headers=people["resident_a"]).status_code
        == 200
    )
    assert (
        requests_api.post(path, json={"action": "cancel"}, headers=people["resident_a"]).status_code
        == 409
    )
    assert (
        requests_api.post(path, json={"action": "accept"}, headers=people["officer"]).status_code
        == 409
    )


def test_a_stale_version_cannot_overwrite_a_newer_decision(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    created = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": GOOD_FORM},
        headers=people["resident_a"],
    ).json()
    path = f"/api/v1/requests/{created['id']}/actions"
    accepted = requests_api.post(
        path, json={"action": "accept"}, headers={**people["officer"], "If-Match": '"1"'}
    )
    assert accepted.status_code == 200
    stale = requests_api.post(
        path, json={"action": "cancel"}, headers={**people["resident_a"], "If-Match": '"1"'}
    )
    assert stale.status_code == 412
