"""Acceptance 2: each RFC 9700 / OAuth 2.1 rule, seen from a client or an attacker: PKCE
required and S256 only, exact redirect URIs, single-use short-lived codes, no implicit or
password grant, and bad tokens refused by a resource server through portal_shared."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from portal_testing.oidc import (
    ADMIN_PASSWORD,
    WEB_CALLBACK,
    authorization_code,
    authorize_params,
    exchange,
    pkce_pair,
    redirect_query,
    refresh,
    sign_in_with_pkce,
)
from portal_testing.service import TestIssuer


async def test_missing_pkce_is_refused_back_to_the_client(
    client: httpx.AsyncClient, parties: None
) -> None:
    params = authorize_params("", code_challenge_method="")
    response = await client.get("/auth/authorize", params=params)
    query = redirect_query(response)
    assert query["error"] == "invalid_request"
    assert "PKCE" in query["error_description"]
    assert query["iss"] == "http://localhost:8000/auth"
    assert query["state"] == params["state"]


async def test_plain_pkce_is_refused(client: httpx.AsyncClient, parties: None) -> None:
    verifier, _ = pkce_pair()
    for method in ("plain", ""):
        params = authorize_params(verifier, code_challenge_method=method)
        query = redirect_query(await client.get("/auth/authorize", params=params))
        assert query["error"] == "invalid_request"
        assert "S256" in query["error_description"]


async def test_redirect_uri_with_an_extra_character_is_refused_without_redirecting(
    client: httpx.AsyncClient, parties: None
) -> None:
    _, challenge = pkce_pair()
    for uri in (
        WEB_CALLBACK + "x",
        WEB_CALLBACK + "/",
        WEB_CALLBACK + "?a=1",
        "https://evil.example/callback",
    ):
        response = await client.get(
            "/auth/authorize", params=authorize_params(challenge, redirect_uri=uri)
        )
        assert response.status_code == 400
        assert "location" not in response.headers
        assert 'name="password"' not in response.text


async def test_unknown_client_gets_no_redirect(client: httpx.AsyncClient, parties: None) -> None:
    _, challenge = pkce_pair()
    response = await client.get(
        "/auth/authorize", params=authorize_params(challenge, client_id="nobody")
    )
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_code_replay_is_refused_and_revokes_what_the_code_issued(
    client: httpx.AsyncClient, parties: None
) -> None:
    verifier, challenge = pkce_pair()
    code = await authorization_code(client, "admin", ADMIN_PASSWORD, challenge)
    first = await exchange(client, code, verifier)
    assert first.status_code == 200
    replay = await exchange(client, code, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # RFC 9700 4.2.4: the replay suggests the code leaked, so its tokens die too.
    stolen = await refresh(client, first.json()["refresh_token"])
    assert stolen.status_code == 400


async def test_wrong_code_verifier_is_refused(client: httpx.AsyncClient, parties: None) -> None:
    _, challenge = pkce_pair()
    code = await authorization_code(client, "admin", ADMIN_PASSWORD, challenge)
    other_verifier, _ = pkce_pair()
    response = await exchange(client, code, other_verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    missing = await exchange(client, code, "")
    assert missing.status_code == 400


async def test_code_is_bound_to_its_redirect_uri(client: httpx.AsyncClient, parties: None) -> None:
    verifier, challenge = pkce_pair()
    code = await authorization_code(client, "admin", ADMIN_PASSWORD, challenge)
    response = await exchange(client, code, verifier, redirect_uri="http://127.0.0.1:8000/callback")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_expired_code_is_refused(
    app: FastAPI, client: httpx.AsyncClient, parties: None
) -> None:
    verifier, challenge = pkce_pair()
    code = await authorization_code(client, "admin", ADMIN_PASSWORD, challenge)
    async with app.state.engine.begin() as conn:
        lifetime = await conn.scalar(sa.text("SELECT expires_at - now() FROM authorization_codes"))
        await conn.execute(
            sa.text("UPDATE authorization_codes SET expires_at = now() - interval '1 second'")
        )
    assert lifetime.total_seconds() <= 60
    response = await exchange(client, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_implicit_grant_is_refused(client: httpx.AsyncClient, parties: None) -> None:
    _, challenge = pkce_pair()
    for response_type in ("token", "id_token token", "code token"):
        query = redirect_query(
            await client.get(
                "/auth/authorize", params=authorize_params(challenge, response_type=response_type)
            )
        )
        assert query["error"] in ("unsupported_response_type", "unauthorized_client")
        assert "access_token" not in query


async def test_password_grant_is_refused(client: httpx.AsyncClient, parties: None) -> None:
    response = await client.post(
        "/auth/token",
        data={
            "grant_type": "password",
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "client_id": "portal-web",
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "unsupported_grant_type"
    assert body["status"] == 400
    assert body["detail"]


def _unsigned(claims: dict[str, Any]) -> str:
    # PyJWT signs nothing for alg "none"; the key argument is ignored.
    return jwt.encode(claims, key="", algorithm="none", headers={"typ": "at+jwt", "kid": "x"})


@pytest.mark.parametrize(
    "case", ["alg-none", "wrong-key", "wrong-iss", "wrong-aud", "expired", "hs256-with-public-key"]
)
async def test_bad_tokens_are_refused_by_a_resource_server(
    app: FastAPI,
    client: httpx.AsyncClient,
    parties: None,
    foreign_issuer: TestIssuer,
    case: str,
) -> None:
    good = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    claims = jwt.decode(good.access_token, options={"verify_signature": False})
    header = jwt.get_unverified_header(good.access_token)
    now = int(time.time())
    if case == "alg-none":
        token = _unsigned(claims)
    elif case == "wrong-key":
        # Right issuer name and even the real key id, but signed with another key.
        token = jwt.encode(
            claims,
            foreign_issuer.key,
            algorithm="RS256",
            headers={"kid": header["kid"], "typ": "at+jwt"},
        )
    elif case == "hs256-with-public-key":
        jwks = (await client.get("/auth/jwks")).json()
        token = jwt.encode(
            claims,
            str(jwks).encode(),
            algorithm="HS256",
            headers={"kid": header["kid"], "typ": "at+jwt"},
        )
    else:
        overrides: dict[str, dict[str, Any]] = {
            "wrong-iss": {"iss": "http://evil.example/auth"},
            "wrong-aud": {"aud": "another-api"},
            "expired": {"iat": now - 3600, "exp": now - 600},
        }
        override = overrides[case]
        # Signed with the identity service's own key, so only the claim is wrong.
        token = await _resign_with_identity_key(app, {**claims, **override})
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


async def _resign_with_identity_key(app: FastAPI, claims: dict[str, Any]) -> str:
    from identity import keys

    async with app.state.sessionmaker() as session:
        key = await keys.current_key(session, app.state.settings.key_encryption_secret)
    return jwt.encode(
        claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid, "typ": "at+jwt"}
    )


async def test_id_token_is_not_accepted_as_an_access_token(
    client: httpx.AsyncClient, parties: None
) -> None:
    tokens = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    response = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {tokens.id_token}"}
    )
    assert response.status_code == 401


async def test_unknown_subject_token_finds_no_account(
    app: FastAPI, client: httpx.AsyncClient, parties: None
) -> None:
    tokens = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    token = await _resign_with_identity_key(app, {**claims, "sub": str(uuid.uuid4())})
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
