"""API4:2023 Unrestricted resource consumption, at the services: page sizes are capped,
oversized values are refused before they reach the database, and hostile shapes (deep form
schemas, long cursors and keys) are refused as 422 rather than worked on. At the edge
gateway: registration and submission are rate-limited (429 with Retry-After), and an
oversized body is 413 before any service sees it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fuzz.bodies import service_body
from tests.fuzz.portal import EDGE_LIMIT, EDGE_MAX_BODY, Portal, World

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


def test_a_huge_form_is_refused_at_the_services_edge(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    form = {f"field{i}": "x" * 100 for i in range(20_000)}  # about 2.5 MB
    response = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": form},
        headers=people["resident_a"],
    )
    # Past the service's JSON_MAX_BYTES (1 MiB): refused before it is parsed.
    assert response.status_code == 413
    wide = {f"field{i}": "x" for i in range(1001)}  # small, but past JSON_MAX_KEYS
    response = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": wide},
        headers=people["resident_a"],
    )
    assert response.status_code == 422
    assert response.json()["code"] == "json-too-large"
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


# Where abuse costs the most, each attacked from a loopback address of its own: what one
# call looks like, how the service answers it below the limit, and the limit's name.
# (Password guessing is stopped by the identity service per account and per client id.)
STRICT: dict[str, tuple[str, dict[str, Any], int, str, str]] = {
    "registration": (
        "/api/v1/residents",
        {"json": {}},
        422,
        "127.0.0.42",
        "per-address-registration",
    ),
    "submission": ("/api/v1/requests", {"json": {}}, 422, "127.0.0.43", "per-subject-submissions"),
}


@pytest.mark.parametrize("flow", STRICT)
def test_registration_and_submission_are_rate_limited_at_the_edge(
    portal: Portal, people: dict[str, dict[str, str]], flow: str
) -> None:
    path, body, answer, source, limit = STRICT[flow]
    headers = people["resident_a"] if flow == "submission" else {}
    with portal.client("edge", source) as edge:
        allowed = [edge.post(path, headers=headers, **body) for _ in range(EDGE_LIMIT)]
        refused = edge.post(path, headers=headers, **body)
        # Reads are not abuse of the flow: the same caller still reads.
        read = edge.get("/api/v1/services")
    assert [r.status_code for r in allowed] == [answer] * EDGE_LIMIT
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert "retry after" in refused.json()["detail"]
    assert refused.json()["limit"] == limit
    assert read.status_code == 200


def _pieces(total: int) -> Iterator[bytes]:
    for _ in range(total // 4096):
        yield b"x" * 4096


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversized_body_is_413_at_the_edge(
    portal: Portal, world: World, people: dict[str, dict[str, str]], chunked: bool
) -> None:
    body = b'{"form_data": "' + b"x" * EDGE_MAX_BODY + b'"}'
    content: Any = _pieces(EDGE_MAX_BODY * 2) if chunked else body
    with portal.client("edge", "127.0.0.44") as edge:
        response = edge.post(
            "/api/v1/requests",
            content=content,
            headers={**people["resident_b"], "Content-Type": "application/json"},
        )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert str(EDGE_MAX_BODY) in response.json()["detail"]
