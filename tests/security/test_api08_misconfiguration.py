"""API8:2023 Security misconfiguration: every error from every service is problem+json with
a useful detail, without stack traces, library names or versions, and no response names the
server software (the gateway's own errors included); inputs PostgreSQL cannot store are
refused, never a 500; a browser on an origin the portal does not know is refused at the
edge."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fuzz.bodies import agency_body, service_body
from tests.fuzz.portal import COMPONENTS, EDGE_MAX_BODY, EDGE_ORIGIN, Portal, World

LEAKS = ("Traceback", 'File "', "sqlalchemy", "asyncpg", "pydantic", "uvicorn", "starlette")


def error_calls(world: World) -> list[tuple[str, str, str, bytes | None]]:
    return [
        ("directory", "GET", "/nowhere", None),
        ("directory", "DELETE", "/api/v1/agencies", None),
        ("directory", "GET", "/api/v1/agencies/not-a-uuid", None),
        ("directory", "POST", "/api/v1/agencies", b"{not json"),
        ("catalog", "GET", "/api/v1/services/00000000-0000-4000-8000-000000000000", None),
        ("catalog", "POST", "/api/v1/services", b"\xff\xfe\x00"),
        ("requests", "GET", "/api/v1/requests", None),
        ("requests", "POST", f"/api/v1/requests/{world.request_a['id']}/actions", b"[]"),
    ]


@pytest.mark.parametrize("index", range(8))
def test_errors_are_plain_problems(portal: Portal, world: World, index: int) -> None:
    component, method, path, body = error_calls(world)[index]
    with portal.client(component) as client:
        response = client.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == response.status_code
    assert problem["detail"].strip()
    for leak in LEAKS:
        assert leak.lower() not in response.text.lower(), f"the error mentions {leak}"


def edge_error_calls() -> list[tuple[str, str, dict[str, str], bytes | None]]:
    """Errors the edge gateway answers itself, before or instead of a service."""
    json_type = {"Content-Type": "application/json"}
    return [
        ("GET", "/nowhere", {}, None),
        ("GET", "/api/v1/requests", {"Authorization": "Bearer not-a-jwt"}, None),
        ("GET", "/api/v1/requests", {}, None),
        ("POST", "/api/v1/agencies", json_type, b"x" * (EDGE_MAX_BODY + 1)),
        ("GET", "/api/v1/services", {"Origin": "https://evil.example"}, None),
        ("GET", "/api/v1/services/%00%ff", {}, None),
    ]


@pytest.mark.parametrize("index", range(6))
def test_the_gateways_errors_are_plain_problems(portal: Portal, index: int) -> None:
    method, path, headers, body = edge_error_calls()[index]
    with portal.client("edge", "127.0.0.61") as edge:
        response = edge.request(method, path, content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].strip()
    for leak in LEAKS:
        assert leak.lower() not in response.text.lower(), f"the error mentions {leak}"
    assert "server" not in response.headers, response.headers.get("server")


def test_an_unknown_origin_is_refused_and_a_known_one_served(portal: Portal) -> None:
    evil = "https://evil.example"
    with portal.client("edge", "127.0.0.62") as edge:
        preflight = edge.options(
            "/api/v1/requests",
            headers={"Origin": evil, "Access-Control-Request-Method": "POST"},
        )
        simple = edge.get("/api/v1/services", headers={"Origin": evil})
        known = edge.get("/api/v1/services", headers={"Origin": EDGE_ORIGIN})
    for refused in (preflight, simple):
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
        assert evil in refused.json()["detail"]
    assert known.status_code == 200
    assert known.headers["access-control-allow-origin"] == EDGE_ORIGIN


@pytest.mark.parametrize("component", [*(c.name for c in COMPONENTS), "edge"])
def test_no_response_names_the_server_software(portal: Portal, component: str) -> None:
    with portal.client(component) as client:
        for path in ("/healthz", "/nowhere", "/openapi.json"):
            response = client.get(path)
            assert "server" not in response.headers, response.headers.get("server")
            assert "x-powered-by" not in response.headers


def _raw(obj: object) -> bytes:
    # json.dumps writes a lone surrogate as the escape "\ud800", as a hostile client would.
    return json.dumps(obj).encode()


def test_text_postgresql_cannot_store_is_refused_not_a_500(
    portal: Portal, world: World, people: dict[str, dict[str, str]]
) -> None:
    lone = "\ud800"
    agency = agency_body("BKR-SURROGATE")
    agency["address"] = lone
    service = service_body("surrogate", world.agency_id)
    service["form_schema"] = {**service["form_schema"], "description": lone}
    big_number = service_body("big-number", world.agency_id)
    big_number["form_schema"] = {**big_number["form_schema"], "maxProperties": 2**70}
    calls = [
        ("directory", "/api/v1/agencies", agency, "admin"),
        ("catalog", "/api/v1/services", service, "admin"),
        ("catalog", "/api/v1/services", big_number, "admin"),
        (
            "requests",
            f"/api/v1/requests/{world.request_b['id']}/actions",
            {"action": "cancel", "comment": lone},
            "resident_b",
        ),
        (
            "requests",
            "/api/v1/requests",
            {"service_id": world.service_id, "form_data": {"purpose": lone}},
            "resident_a",
        ),
    ]
    for component, path, body, who in calls:
        with portal.client(component) as client:
            response = client.post(
                path,
                content=_raw(body),
                headers={**people[who], "Content-Type": "application/json"},
            )
        assert response.status_code == 422, f"{path}: {response.status_code} {response.text}"


def test_a_huge_integer_in_an_idempotent_submission_is_not_a_500(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]]
) -> None:
    response = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": {"purpose": 2**80}},
        headers={**people["resident_a"], "Idempotency-Key": "huge-integer"},
    )
    assert response.status_code == 422, response.text
