"""Scopes mean something for people's tokens too (issue 15): a sign-in through portal-web
that asked only for `openid` gets a token with only `openid`, and the API refuses it."""

from __future__ import annotations

import httpx

from portal_testing.oidc import valid_iin
from portal_testing.scopes import INSUFFICIENT_SCOPE
from tests.fuzz.bodies import GOOD_FORM
from tests.fuzz.portal import Portal, World


def _refused(response: httpx.Response, scope: str) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["type"] == INSUFFICIENT_SCOPE
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{scope}"'
    )


def test_a_resident_token_with_only_openid_neither_lists_nor_submits(
    portal: Portal, world: World, requests_api: httpx.Client
) -> None:
    only_openid = portal.sign_in(valid_iin(1), scope="openid")
    with portal.client("identity") as identity:
        userinfo = identity.get("/auth/userinfo", headers=only_openid)
        me = identity.get("/api/v1/me", headers=only_openid)
    # The sign-in itself works: userinfo needs only openid.
    assert userinfo.status_code == 200, userinfo.text
    _refused(me, "accounts:read")
    _refused(requests_api.get("/api/v1/requests", headers=only_openid), "requests:read")
    submitted = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": GOOD_FORM},
        headers=only_openid,
    )
    _refused(submitted, "requests:write")
    _refused(
        requests_api.get(f"/api/v1/requests/{world.request_a['id']}", headers=only_openid),
        "requests:read",
    )


def test_the_same_sign_in_asking_for_no_scope_gets_the_clients_scopes(
    portal: Portal, requests_api: httpx.Client
) -> None:
    # What existing sign-ins do: no scope asked, every scope portal-web is registered with.
    everything = portal.sign_in(valid_iin(1), scope="")
    listed = requests_api.get("/api/v1/requests", headers=everything)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"]


def test_a_read_only_sign_in_reads_but_does_not_submit(
    portal: Portal, world: World, requests_api: httpx.Client
) -> None:
    reader = portal.sign_in(valid_iin(1), scope="openid requests:read")
    assert requests_api.get("/api/v1/requests", headers=reader).status_code == 200
    submitted = requests_api.post(
        "/api/v1/requests",
        json={"service_id": world.service_id, "form_data": GOOD_FORM},
        headers=reader,
    )
    _refused(submitted, "requests:write")
