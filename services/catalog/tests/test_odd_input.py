"""Odd but valid-looking input is a 4xx naming the parameter, never a 500; personal answers
are not cached while the public catalog stays cacheable."""

from __future__ import annotations

import httpx
import pytest

from portal_testing.service import TestIssuer

SERVICES = "/api/v1/services"


@pytest.mark.parametrize("path", [f"{SERVICES}/a%00b", f"{SERVICES}/%00/versions/1"])
async def test_a_nul_in_a_path_segment_is_422(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"] == "path.service_id"


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"])
async def test_updated_since_past_the_calendar_in_utc_is_422(
    client: httpx.AsyncClient, at: str
) -> None:
    response = await client.get(SERVICES, params={"updated_since": at})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["location"] == "query.updated_since"
    assert "outside the years 1 to 9999" in error["message"]


async def test_the_public_catalog_stays_cacheable_and_the_admins_view_is_not_stored(
    client: httpx.AsyncClient, issuer: TestIssuer, admin: dict[str, str]
) -> None:
    resident = issuer.headers(roles=["resident"])
    anonymous = await client.get(SERVICES)
    assert anonymous.headers["cache-control"] == "public, max-age=60"
    assert (await client.get(SERVICES, headers=resident)).headers["cache-control"] == (
        "public, max-age=60"
    )
    # The admin's list shows drafts: the handler marks it private; an admin's audit page,
    # which sets nothing itself, is not stored at all.
    assert (await client.get(SERVICES, headers=admin)).headers["cache-control"] == (
        "private, no-cache"
    )
    missing = await client.get(
        f"{SERVICES}/00000000-0000-4000-8000-000000000000/audit", headers=admin
    )
    assert missing.headers["cache-control"] == "no-store"
