"""API1:2023 Broken object level authorization: nobody reaches another owner's application,
and the answer is 404 (as for a request that does not exist), never 403; through the edge
with real sign-ins as well."""

from __future__ import annotations

import httpx
import pytest

from tests.fuzz.portal import Portal, World

OUTSIDERS = ["resident_b", "other_officer"]


@pytest.mark.parametrize("who", OUTSIDERS)
def test_an_outsider_cannot_read_or_act_on_a_request(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]], who: str
) -> None:
    request_id = world.request_a["id"]
    headers = people[who]
    for response in (
        requests_api.get(f"/api/v1/requests/{request_id}", headers=headers),
        requests_api.get(f"/api/v1/requests/{request_id}/history", headers=headers),
        requests_api.post(
            f"/api/v1/requests/{request_id}/actions",
            json={"action": "cancel"},
            headers=headers,
        ),
        requests_api.post(
            f"/api/v1/requests/{request_id}/actions",
            json={"action": "accept"},
            headers=headers,
        ),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    # The owner still finds it untouched.
    mine = requests_api.get(f"/api/v1/requests/{request_id}", headers=people["resident_a"])
    assert mine.status_code == 200
    assert mine.json()["status"] == "submitted"


@pytest.mark.parametrize("who", OUTSIDERS)
def test_lists_and_filters_never_show_another_owners_request(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]], who: str
) -> None:
    # Filtering by the victim's agency or service must not widen what the caller sees.
    for params in (
        {},
        {"agency_id": world.agency_id},
        {"service_id": world.service_id},
        {"limit": 200},
    ):
        page = requests_api.get("/api/v1/requests", params=params, headers=people[who])
        assert page.status_code == 200, page.text
        assert world.request_a["id"] not in page.text


def test_a_missing_and_a_foreign_request_look_the_same(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    foreign = requests_api.get(
        f"/api/v1/requests/{world.request_a['id']}", headers=people["resident_b"]
    )
    missing = requests_api.get(
        "/api/v1/requests/00000000-0000-4000-8000-000000000000", headers=people["resident_b"]
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["title"] == missing.json()["title"]


def test_the_responsible_officer_does_see_it(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    response = requests_api.get(
        f"/api/v1/requests/{world.request_a['id']}", headers=people["officer"]
    )
    assert response.status_code == 200
    assert response.json()["form_data"] == world.request_a["form_data"]


@pytest.mark.parametrize("who", OUTSIDERS)
def test_real_sign_ins_through_the_edge_see_only_their_own(
    portal: Portal, world: World, signed_in: dict[str, dict[str, str]], who: str
) -> None:
    with portal.client("edge", "127.0.0.72") as edge:
        other = edge.get(f"/api/v1/requests/{world.request_a['id']}", headers=signed_in[who])
        listed = edge.get("/api/v1/requests", headers=signed_in[who])
        mine = edge.get(
            f"/api/v1/requests/{world.request_a['id']}", headers=signed_in["resident_a"]
        )
    assert other.status_code == 404, other.text
    assert listed.status_code == 200
    assert world.request_a["id"] not in listed.text
    assert mine.status_code == 200
