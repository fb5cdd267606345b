"""API4:2023 Unrestricted resource consumption, at the services: page sizes are capped,
oversized values are refused before they reach the database, and hostile shapes (deep form
schemas, long cursors and keys) are refused as 422 rather than worked on.

The 413 for oversized bodies and the rate limits live at the gateway (not on this branch)."""

from __future__ import annotations

import httpx
import pytest

from tests.fuzz.portal import Portal, World, service_body

LISTS = [
    ("directory", "/api/v1/agencies", "anonymous"),
    ("catalog", "/api/v1/services", "anonymous"),
    ("requests", "/api/v1/requests", "admin"),
    ("requests", "/api/v1/requests", "resident_a"),
]


@pytest.mark.parametrize(("component", "path", "who"), LISTS)
def test_a_page_is_never_bigger_than_200(
    portal: Portal, people: dict[str, dict[str, str]], component: str, path: str, who: str
) -> None:
    with portal.client(component) as client:
        huge = client.get(path, params={"limit": 100000}, headers=people[who])
        assert huge.status_code == 422, huge.text
        assert "limit" in huge.json()["detail"]
        biggest = client.get(path, params={"limit": 200}, headers=people[who])
        assert biggest.status_code == 200
        assert len(biggest.json()["items"]) <= 200
        default = client.get(path, headers=people[who])
        assert len(default.json()["items"]) <= 50


@pytest.mark.parametrize(("component", "path", "who"), LISTS)
def test_a_forged_or_huge_cursor_is_refused(
    portal: Portal, people: dict[str, dict[str, str]], component: str, path: str, who: str
) -> None:
    with portal.client(component) as client:
        for cursor in ("x" * 8_000, "eyJ0eXBlIjoiZXZpbCJ9", "%%%"):
            response = client.get(path, params={"cursor": cursor}, headers=people[who])
            assert response.status_code in (400, 422), (cursor[:20], response.text)


def test_a_megabyte_comment_is_refused(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    response = requests_api.post(
        f"/api/v1/requests/{world.request_b['id']}/actions",
        json={"action": "cancel", "comment": "x" * 1_000_000},
        headers=people["resident_b"],
    )
    assert response.status_code == 422
    assert "comment" in response.json()["detail"]


def test_a_huge_form_is_refused_by_its_schema(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    form = {f"field{i}": "x" * 100 for i in range(20_000)}  # about 2.5 MB
    response = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": form},
        headers=people["resident_a"],
    )
    assert response.status_code == 422
    # The problem stays small even when the body is not.
    assert len(response.content) < 20_000


def test_an_absurdly_deep_form_schema_is_refused(
    catalog: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    deep: dict[str, object] = {"type": "string"}
    for _ in range(200):  # far past the catalog's limit of 32
        deep = {"type": "object", "properties": {"a": deep}}
    body = service_body("deep-schema", world.agency_id, form_schema=deep)
    response = catalog.post("/api/v1/services", json=body, headers=people["admin"])
    assert response.status_code == 422, response.text[:300]


def test_an_oversized_idempotency_key_is_refused(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    response = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": {}},
        headers={**people["resident_a"], "Idempotency-Key": "k" * 5000},
    )
    assert response.status_code == 422
