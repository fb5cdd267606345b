"""API5:2023 Broken function level authorization: residents and officers cannot call the
administrators' functions (identity's account and client administration included, with real
sign-ins through the edge), officers cannot apply, residents cannot take officers' actions."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.fuzz.bodies import GOOD_FORM, agency_body, service_body
from tests.fuzz.portal import Portal, World

NOT_ADMINS = ["resident_a", "officer"]


def admin_calls(world: World) -> list[tuple[str, str, str, object]]:
    agency, service = world.agency_id, world.service_id
    return [
        ("directory", "POST", "/api/v1/agencies", agency_body("BKR-NOT-ADMIN")),
        ("directory", "PATCH", f"/api/v1/agencies/{agency}", {"city": "Almaty"}),
        ("directory", "POST", f"/api/v1/agencies/{agency}/deactivate", {}),
        ("directory", "POST", f"/api/v1/agencies/{agency}/activate", {}),
        ("directory", "GET", f"/api/v1/agencies/{agency}/audit", None),
        ("catalog", "POST", "/api/v1/services", service_body("not-admin", agency)),
        ("catalog", "PATCH", f"/api/v1/services/{service}", {"term_working_days": 1}),
        ("catalog", "POST", f"/api/v1/services/{service}/publish", None),
        ("catalog", "POST", f"/api/v1/services/{service}/withdraw", None),
        ("catalog", "GET", f"/api/v1/services/{service}/audit", None),
    ]


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_administrators_functions_are_closed_to_others(
    portal: Portal, world: World, people: dict[str, dict[str, str]], who: str
) -> None:
    for component, method, path, body in admin_calls(world):
        with portal.client(component) as client:
            response = client.request(method, path, json=body, headers=people[who])
        assert response.status_code in (403, 404), f"{method} {path}: {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
    # Nothing moved: the agency is active and the service still published.
    with portal.client("directory") as client:
        assert client.get(f"/api/v1/agencies/{world.agency_id}").json()["status"] == "active"
    with portal.client("catalog") as client:
        assert client.get(f"/api/v1/services/{world.service_id}").json()["status"] == "published"


def identity_admin_calls(portal: Portal) -> list[tuple[str, str, object]]:
    officer = {
        "username": "sneaky-admin",
        "password": "steppe-wind-2026",
        "given_name": "Sneaky",
        "family_name": "Admin",
        "email": "sneaky@example.kz",
        "roles": ["admin"],
    }
    client = {"client_id": "sneaky", "name": "Sneaky", "client_type": "public"}
    return [
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/users", officer),
        ("GET", f"/api/v1/users/{portal.resident_a}", None),
        ("PATCH", f"/api/v1/users/{portal.resident_b}", {"roles": ["admin"]}),
        ("GET", "/api/v1/clients", None),
        ("POST", "/api/v1/clients", client),
        ("POST", "/api/v1/clients/portal-web/secret", None),
    ]


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_identitys_administration_is_closed_to_others(
    portal: Portal, signed_in: dict[str, dict[str, str]], who: str
) -> None:
    with portal.client("edge", "127.0.0.71") as edge:
        for method, path, body in identity_admin_calls(portal):
            response = edge.request(method, path, json=body, headers=signed_in[who])
            assert response.status_code in (403, 404), f"{method} {path}: {response.text}"
            assert response.headers["content-type"].startswith("application/problem+json")
        # The resident is still a resident, and no administrator was made.
        me = edge.get("/api/v1/me", headers=signed_in["resident_b"]).json()
        assert me["roles"] == ["resident"]
        users = edge.get("/api/v1/users", headers=signed_in["admin"]).json()["items"]
        assert "sneaky-admin" not in {u.get("username") for u in users}


@pytest.mark.parametrize("who", ["officer", "admin"])
def test_only_residents_apply(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]], who: str
) -> None:
    response = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": GOOD_FORM},
        headers=people[who],
    )
    assert response.status_code == 403


@pytest.mark.parametrize("action", ["accept", "approve"])
def test_an_applicant_cannot_decide_on_their_own_request(
    requests_api: httpx.Client, world: World, people: dict[str, dict[str, str]], action: str
) -> None:
    response = requests_api.post(
        f"/api/v1/requests/{world.request_a['id']}/actions",
        json={"action": action},
        headers=people["resident_a"],
    )
    assert response.status_code == 403, response.text
    assert (
        requests_api.get(
            f"/api/v1/requests/{world.request_a['id']}", headers=people["resident_a"]
        ).json()["status"]
        == "submitted"
    )


def test_an_agency_system_needs_its_write_scope(
    portal: Portal, requests_api: httpx.Client, world: World
) -> None:
    read_only = portal.bearer(
        sub="agency-demo",
        client_id="agency-demo",
        roles=[],
        scope="requests:read",
        agency_id=uuid.UUID(world.agency_id),
    )
    seen = requests_api.get(f"/api/v1/requests/{world.request_a['id']}", headers=read_only)
    assert seen.status_code == 200
    acted = requests_api.post(
        f"/api/v1/requests/{world.request_a['id']}/actions",
        json={"action": "accept"},
        headers=read_only,
    )
    assert acted.status_code == 403
