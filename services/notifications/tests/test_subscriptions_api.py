"""The subscriptions API as an agency system and an administrator use it: a secret shown
once, types checked against the portal's events, each system seeing only its own, paging,
pause/resume under If-Match, and deletion."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx

from portal_testing.service import TestIssuer

PROBLEM = "application/problem+json"
URL = "https://agency.example.kz/portal-events"
AGENCY_A = uuid.uuid4()
AGENCY_B = uuid.uuid4()


def system(
    issuer: TestIssuer, agency: uuid.UUID, client: str = "agency-a-system"
) -> dict[str, str]:
    """An agency system's client-credentials token (sub == client_id) with events:subscribe."""
    return issuer.headers(
        sub=client, client_id=client, roles=[], agency_id=agency, scope="events:subscribe"
    )


def admin(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(roles=["admin"])


async def subscribe(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/subscriptions",
        json={"url": URL, "types": ["requests.request.*"], **body},
        headers=headers,
    )


async def test_an_agency_system_subscribes_and_sees_its_secret_once(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    made = await subscribe(client, system(issuer, AGENCY_A), description="our intake")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["status"] == "pending"
    assert body["types"] == ["requests.request.*"]
    assert body["agency_id"] == str(AGENCY_A)
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    assert made.headers["location"] == f"/api/v1/subscriptions/{body['id']}"

    again = await client.get(
        f"/api/v1/subscriptions/{body['id']}", headers=system(issuer, AGENCY_A)
    )
    assert again.status_code == 200
    assert "secret" not in again.json()
    assert again.headers["etag"] == '"1"'
    listed = await client.get("/api/v1/subscriptions", headers=system(issuer, AGENCY_A))
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]
    assert "secret" not in listed.json()["items"][0]


async def test_only_admins_and_systems_with_the_scope_may_subscribe(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    resident = await subscribe(client, issuer.headers())
    assert resident.status_code == 403
    assert resident.headers["content-type"] == PROBLEM
    no_scope = await subscribe(
        client,
        issuer.headers(sub="sys", client_id="sys", roles=[], agency_id=AGENCY_A, scope="openid"),
    )
    assert no_scope.status_code == 403
    anonymous = await subscribe(client, {})
    assert anonymous.status_code == 401
    other_agency = await subscribe(client, system(issuer, AGENCY_A), agency_id=str(AGENCY_B))
    assert other_agency.status_code == 422

    everyone = await subscribe(client, admin(issuer))
    assert everyone.status_code == 201
    assert everyone.json()["agency_id"] is None
    one = await subscribe(client, admin(issuer), agency_id=str(AGENCY_B))
    assert one.json()["agency_id"] == str(AGENCY_B)


async def test_types_and_urls_the_portal_cannot_serve_are_refused(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    headers = system(issuer, AGENCY_A)
    unknown = await subscribe(client, headers, types=["requests.request.exploded.v1"])
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == PROBLEM
    malformed = await subscribe(client, headers, types=["requests request"])
    assert malformed.status_code == 422
    exact = await subscribe(client, headers, types=["requests.request.approved.v1", "*.rejected.*"])
    assert exact.status_code == 201
    for url in (
        "http://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://2130706433/",
        "ftp://agency.example.kz/hook",
        "https://user:pw@agency.example.kz/hook",
        "https:///nohost",
        "not a url",
    ):
        refused = await subscribe(client, headers, url=url)
        assert refused.status_code == 422, url


async def test_a_system_never_sees_another_systems_subscription(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    theirs = (await subscribe(client, system(issuer, AGENCY_B, "agency-b-system"))).json()
    mine = system(issuer, AGENCY_A)
    path = f"/api/v1/subscriptions/{theirs['id']}"
    assert (await client.get(path, headers=mine)).status_code == 404
    patched = await client.patch(path, json={"status": "paused"}, headers={**mine, "If-Match": "*"})
    assert patched.status_code == 404
    assert (await client.delete(path, headers=mine)).status_code == 404
    assert (await client.get("/api/v1/subscriptions", headers=mine)).json()["items"] == []
    seen_by_admin = await client.get(path, headers=admin(issuer))
    assert seen_by_admin.status_code == 200


async def test_the_list_pages_newest_first(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    headers = system(issuer, AGENCY_A)
    made = [(await subscribe(client, headers, description=str(n))).json()["id"] for n in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/subscriptions", params=params, headers=headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]


async def test_pause_resume_and_types_change_under_if_match(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    headers = system(issuer, AGENCY_A)
    made = (await subscribe(client, headers)).json()
    path = f"/api/v1/subscriptions/{made['id']}"
    unconditional = await client.patch(path, json={"status": "paused"}, headers=headers)
    assert unconditional.status_code == 428
    paused = await client.patch(
        path, json={"status": "paused"}, headers={**headers, "If-Match": '"1"'}
    )
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"
    assert paused.headers["etag"] == '"2"'
    stale = await client.patch(
        path, json={"status": "active"}, headers={**headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    resumed = await client.patch(
        path,
        json={"status": "active", "types": ["requests.request.approved.v1"]},
        headers={**headers, "If-Match": '"2"'},
    )
    assert resumed.status_code == 200
    # Never validated yet, so it is pending until its endpoint answers.
    assert resumed.json()["status"] == "pending"
    assert resumed.json()["types"] == ["requests.request.approved.v1"]
    bad = await client.patch(
        path, json={"types": ["catalog.*.nothing"]}, headers={**headers, "If-Match": "*"}
    )
    assert bad.status_code == 422


async def test_a_deleted_subscription_is_gone(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    headers = system(issuer, AGENCY_A)
    made = (await subscribe(client, headers)).json()
    path = f"/api/v1/subscriptions/{made['id']}"
    assert (await client.delete(path, headers={**headers, "If-Match": '"7"'})).status_code == 412
    assert (await client.delete(path, headers=headers)).status_code == 204
    assert (await client.get(path, headers=headers)).status_code == 404


async def test_a_refused_url_says_why_in_the_callers_language(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    """The reason is part of the problem: an agency's developer reading Russian or Kazakh
    gets all of it in that language, not a translated sentence around an English reason."""
    details = {}
    for language in ("en", "ru", "kk"):
        refused = await client.post(
            "/api/v1/subscriptions",
            json={"url": "https://10.1.2.3/hooks", "types": ["requests.request.*"]},
            headers={**system(issuer, AGENCY_A), "Accept-Language": language},
        )
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["code"] == "invalid-subscription"
        assert problem["errors"][0]["message"] in problem["detail"]
        details[language] = problem["detail"]
    assert details["en"].endswith("10.1.2.3 is a private address")
    assert "частный адрес" in details["ru"]
    assert "жеке желінің мекенжайы" in details["kk"]
    assert len(set(details.values())) == 3
