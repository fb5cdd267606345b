"""API2:2023 Broken authentication: every kind of bad token is refused with 401 and a
WWW-Authenticate challenge, by a read and by a write, in every service and at the edge;
failed logins lock an account without telling a locked account from an unknown one."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest

from portal_testing.oidc import authorize_params, pkce_pair, submit_login, valid_iin
from portal_testing.service import TestIssuer
from tests.fuzz.bodies import PASSWORD, resident_body
from tests.fuzz.portal import Portal


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_tokens(issuer: TestIssuer) -> dict[str, str]:
    good_claims = jwt.decode(issuer.token(roles=["admin"]), options={"verify_signature": False})
    public_pem = issuer.jwks()["keys"][0]["n"]
    return {
        "expired": issuer.token(roles=["admin"], ttl=-3600),
        "alg none": _b64({"alg": "none", "typ": "at+jwt", "kid": issuer.kid})
        + "."
        + _b64(good_claims)
        + ".",
        # HS256 keyed with public material: the classic algorithm-confusion forgery.
        "hs256 with public key": jwt.encode(
            good_claims, public_pem, algorithm="HS256", headers={"kid": issuer.kid, "typ": "at+jwt"}
        ),
        "other issuer's key": TestIssuer().token(roles=["admin"]),
        "wrong audience": issuer.token(roles=["admin"], aud="another-api"),
        "wrong issuer": issuer.token(roles=["admin"], iss="http://evil.example/auth"),
        "not an access token": jwt.encode(
            good_claims, issuer.key, algorithm="RS256", headers={"kid": issuer.kid, "typ": "JWT"}
        ),
        "no expiry": jwt.encode(
            {k: v for k, v in good_claims.items() if k != "exp"},
            issuer.key,
            algorithm="RS256",
            headers={"kid": issuer.kid, "typ": "at+jwt"},
        ),
        "tampered payload": ".".join(
            [
                issuer.token(roles=["resident"]).split(".")[0],
                _b64({**good_claims, "roles": ["admin"], "iat": int(time.time())}),
                issuer.token(roles=["resident"]).split(".")[2],
            ]
        ),
        "garbage": "not-a-jwt",
    }


ENDPOINTS = [
    ("requests", "GET", "/api/v1/requests"),
    ("directory", "POST", "/api/v1/agencies"),
    ("catalog", "POST", "/api/v1/services"),
    ("notifications", "GET", "/api/v1/notifications"),
]


EDGE = [
    ("edge", "GET", "/api/v1/requests"),
    ("edge", "POST", "/api/v1/agencies"),
    # A bad token is refused even where no token is needed.
    ("edge", "GET", "/api/v1/services"),
    ("edge", "GET", "/api/v1/me"),
    ("edge", "PUT", "/api/v1/me/notification-preferences"),
]


@pytest.mark.parametrize(("component", "method", "path"), ENDPOINTS + EDGE)
def test_bad_tokens_are_refused(portal: Portal, component: str, method: str, path: str) -> None:
    # The edge's own address budget: ten refusals are not its per-address limit's business.
    with portal.client(component, "127.0.0.51") as client:
        for name, token in bad_tokens(portal.issuer).items():
            response = client.request(
                method, path, json={}, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
            assert "invalid_token" in response.headers.get("www-authenticate", ""), name
            assert response.json()["detail"], name


@pytest.mark.parametrize("header", ["Basic YWRtaW46YWRtaW4=", "Bearer", "token x"])
def test_malformed_authorization_headers_are_refused(portal: Portal, header: str) -> None:
    with portal.client("requests") as client:
        response = client.get("/api/v1/requests", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_no_token_is_a_challenge_not_an_error(portal: Portal) -> None:
    with portal.client("requests") as client:
        response = client.get("/api/v1/requests")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_for_an_unknown_subject_kind_gets_nothing(portal: Portal) -> None:
    # A valid token whose roles the portal does not know grants no role at all.
    token = portal.issuer.token(sub=uuid.uuid4(), roles=["superuser", "root"])
    with portal.client("directory") as client:
        response = client.post(
            "/api/v1/agencies", json={}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 403


async def test_a_locked_account_answers_like_an_unknown_one(portal: Portal) -> None:
    """After `login_max_failures` (3 in the suite) wrong passwords the account is locked:
    even its right password fails, with the very answer an unknown login gets, so a guesser
    learns neither that the account exists nor that it is locked."""
    body = resident_body(500)
    iin = body["iin"]
    async with httpx.AsyncClient(base_url=portal.url("identity"), timeout=30.0) as web:
        assert (await web.post("/api/v1/residents", json=body)).status_code == 201
        params = authorize_params(pkce_pair()[1], ui_locales="en")
        wrong = [await submit_login(web, params, iin, "wrong-password-1") for _ in range(3)]
        locked = await submit_login(web, params, iin, PASSWORD)
        unknown = await submit_login(web, params, valid_iin(501), PASSWORD)
    answers = {(r.status_code, _message(r.text)) for r in [*wrong, locked, unknown]}
    assert len(answers) == 1, answers
    status, message = answers.pop()
    assert status == 401
    assert "password is wrong" in message
    assert "locked" not in locked.text.lower()


def _message(page: str) -> str:
    """The login page's error, the one line a person reads."""
    start = page.index("The username or password")
    return page[start : page.index("<", start)]
