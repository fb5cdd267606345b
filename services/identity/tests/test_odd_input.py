"""A NUL in a path segment is a 422 naming the parameter, never a 500; answers about
accounts are not cached."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/clients/%00"), ("POST", "/api/v1/clients/a%00b/secret")],
)
async def test_a_nul_in_a_client_id_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], method: str, path: str
) -> None:
    response = await client.request(method, path, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"] == "path.client_id"


async def test_account_answers_are_not_cached(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/users", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
