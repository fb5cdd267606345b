"""Listing and reading: who sees which requests and their form data, filters, and cursor
pagination in a stable order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.conftest import Parties, World


async def ids(client: httpx.AsyncClient, headers: dict[str, str], query: str = "") -> list[str]:
    response = await client.get(f"/api/v1/requests{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_each_caller_lists_what_they_may_see(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    mine = await parties.submit()
    theirs = await parties.submit(who=parties.other_resident_id)
    other_service = await world.service(parties.other_agency_id)
    elsewhere = await client.post(
        "/api/v1/requests",
        json={"service_id": str(other_service), "form_data": parties.good_form},
        headers=parties.resident(),
    )
    assert elsewhere.status_code == 201
    elsewhere_id = elsewhere.json()["id"]

    assert set(await ids(client, parties.resident())) == {mine["id"], elsewhere_id}
    assert set(await ids(client, parties.other_resident())) == {theirs["id"]}
    assert set(await ids(client, parties.officer())) == {mine["id"], theirs["id"]}
    assert set(await ids(client, parties.other_officer())) == {elsewhere_id}
    assert set(await ids(client, parties.admin())) == {mine["id"], theirs["id"], elsewhere_id}
    assert set(await ids(client, parties.agency_system(scope="requests:read"))) == {
        mine["id"],
        theirs["id"],
    }


async def test_form_data_is_shown_to_the_applicant_agency_and_its_system_only(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    request = await parties.submit()
    url = f"/api/v1/requests/{request['id']}"
    for headers in (parties.resident(), parties.officer(), parties.agency_system()):
        assert (await client.get(url, headers=headers)).json()["form_data"] == parties.good_form
    assert (await client.get(url, headers=parties.admin())).json()["form_data"] is None


async def test_an_agency_system_needs_a_requests_scope(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    response = await client.get("/api/v1/requests", headers=parties.agency_system(scope="openid"))
    assert response.status_code == 403
    assert "requests:read" in response.json()["detail"]
    assert (await client.get("/api/v1/requests")).status_code == 401


async def test_filters(client: httpx.AsyncClient, parties: Parties, world: World) -> None:
    first = await parties.submit()
    second = await parties.submit()
    accepted = await parties.act(second["id"], parties.officer(), "accept")
    assert accepted.status_code == 200
    other_service = await world.service(parties.agency_id)
    third = await client.post(
        "/api/v1/requests",
        json={"service_id": str(other_service), "form_data": parties.good_form},
        headers=parties.resident(),
    )
    officer = parties.officer()

    assert await ids(client, officer, "?status=in_review") == [second["id"]]
    assert set(await ids(client, officer, "?status=in_review&status=submitted")) == {
        first["id"],
        second["id"],
        third.json()["id"],
    }
    assert await ids(client, officer, f"?service_id={other_service}") == [third.json()["id"]]
    assert await ids(client, officer, "?overdue=true") == []
    assert len(await ids(client, officer, "?overdue=false")) == 3
    since = accepted.json()["updated_at"]
    updated = await client.get("/api/v1/requests", params={"updated_since": since}, headers=officer)
    assert second["id"] in [i["id"] for i in updated.json()["items"]]
    assert first["id"] not in [i["id"] for i in updated.json()["items"]]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await ids(client, officer, f"?submitted_from={tomorrow.replace('+', '%2B')}") == []
    due = first["due_date"]
    assert len(await ids(client, officer, f"?due_from={due}&due_to={due}")) == 3


async def test_cursor_pages_cover_everything_once_in_a_stable_order(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    made = [(await parties.submit())["id"] for _ in range(7)]
    for order in ("-submitted_at", "submitted_at", "updated_at", "overdue_first"):
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 3, "order": order}
            if cursor:
                params["cursor"] = cursor
            page = (
                await client.get("/api/v1/requests", params=params, headers=parties.officer())
            ).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(made), order
        assert len(seen) == len(set(seen))
        if order == "-submitted_at":
            assert seen == list(reversed(made))
        if order == "submitted_at":
            assert seen == made


async def test_bad_paging_input_is_a_problem_not_a_crash(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    for query in ("?limit=0", "?limit=201", "?order=name"):
        response = await client.get(f"/api/v1/requests{query}", headers=parties.officer())
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "application/problem+json"
    for query in ("?cursor=garbage", "?cursor=W10", "?cursor=W10.AAAA", f"?cursor={'a' * 513}"):
        response = await client.get(f"/api/v1/requests{query}", headers=parties.officer())
        assert response.status_code == 400, query
        assert response.json()["type"].endswith("invalid-cursor")
    await parties.submit()
    await parties.submit()
    page = (await client.get("/api/v1/requests?limit=1", headers=parties.officer())).json()
    # A cursor belongs to its order, and to the list that issued it.
    mixed = await client.get(
        f"/api/v1/requests?order=overdue_first&cursor={page['next_cursor']}",
        headers=parties.officer(),
    )
    assert mixed.status_code == 400
    assert "order" in mixed.json()["detail"]
    request_id = page["items"][0]["id"]
    elsewhere = await client.get(
        f"/api/v1/requests/{request_id}/history?cursor={page['next_cursor']}",
        headers=parties.officer(),
    )
    assert elsewhere.status_code == 400
    assert (
        await client.get("/api/v1/requests/not-a-uuid", headers=parties.officer())
    ).status_code == 422


async def test_history_pages_follow_their_cursor(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    request = await parties.submit()
    for action in ("accept", "approve"):
        assert (await parties.act(request["id"], parties.officer(), action)).status_code == 200
    url = f"/api/v1/requests/{request['id']}/history"
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = (await client.get(url, params=params, headers=parties.resident())).json()
        seen += [h["action"] for h in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ["submit", "accept", "approve"]


async def test_dates_past_the_ends_of_the_calendar_are_a_422_naming_the_filter(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    # In UTC these are before year 1 and after year 9999: no Python datetime holds them. Every
    # service reads date queries with portal_shared.text.UtcDatetime, which refuses them alike.
    await parties.submit()
    for moment in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"):
        for name in ("updated_since", "submitted_from", "submitted_to"):
            response = await client.get(
                "/api/v1/requests", params={name: moment}, headers=parties.officer()
            )
            assert response.status_code == 422, (name, moment, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert name in response.text
    # The last moment that does exist in UTC is an ordinary filter.
    response = await client.get(
        "/api/v1/requests",
        params={"updated_since": "0001-01-01T00:00:00+00:00"},
        headers=parties.officer(),
    )
    assert response.status_code == 200
    assert response.json()["items"]
