"""Odd but valid-looking input is a 4xx naming the parameter, never a 500: a NUL in a path
segment, and date-times whose UTC instant falls outside the calendar."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("path", "names"),
    [("/api/v1/agencies/%00", "agency_id"), ("/api/v1/agencies/by-code/%00", "code")],
)
async def test_a_nul_in_a_path_segment_is_422(
    client: httpx.AsyncClient, path: str, names: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"] == f"path.{names}"


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"])
async def test_updated_since_past_the_calendar_in_utc_is_422(
    client: httpx.AsyncClient, at: str
) -> None:
    response = await client.get("/api/v1/agencies", params={"updated_since": at})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["location"] == "query.updated_since"
    assert "outside the years 1 to 9999" in error["message"]


async def test_the_calendars_own_ends_still_work(client: httpx.AsyncClient) -> None:
    for at in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T05:00:00+05:00"):
        response = await client.get("/api/v1/agencies", params={"updated_since": at})
        assert response.status_code == 200, response.text
