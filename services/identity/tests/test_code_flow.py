"""Acceptance 1: a client that is not authlib (httpx with hand-made PKCE) signs a person in
through the login form; the access token verifies with PyJWT against the published JWKS,
and with the shared TokenVerifier every other service uses."""

from __future__ import annotations

import httpx
import jwt
from fastapi import FastAPI

from portal_shared.auth import TokenVerifier
from portal_testing.oidc import (
    ADMIN_PASSWORD,
    authorize_params,
    pkce_pair,
    redirect_query,
    sign_in_with_pkce,
    submit_login,
)


async def test_login_form_has_the_contract_inputs_and_forbids_framing(
    client: httpx.AsyncClient, parties: None
) -> None:
    _, challenge = pkce_pair()
    page = await client.get("/auth/authorize", params=authorize_params(challenge))
    assert page.status_code == 200
    assert 'name="username"' in page.text
    assert 'name="password"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


async def test_login_page_speaks_kazakh_russian_english(
    client: httpx.AsyncClient, parties: None
) -> None:
    _, challenge = pkce_pair()
    titles = {}
    for lang in ("kk", "ru", "en"):
        page = await client.get(
            "/auth/authorize", params=authorize_params(challenge, ui_locales=lang)
        )
        assert f'<html lang="{lang}">' in page.text
        titles[lang] = page.text
    assert "Құпиясөз" in titles["kk"]
    assert "Пароль" in titles["ru"]
    assert "Password" in titles["en"]


async def test_code_flow_with_hand_made_pkce_gives_tokens_that_verify_with_pyjwt(
    client: httpx.AsyncClient, parties: None
) -> None:
    tokens = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    assert tokens.refresh_token
    assert tokens.id_token
    jwks = (await client.get("/auth/jwks")).json()
    header = jwt.get_unverified_header(tokens.access_token)
    assert header["typ"] == "at+jwt"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        tokens.access_token,
        key=jwt.PyJWK(key),
        algorithms=["RS256"],
        audience="portal-api",
        issuer="http://localhost:8000/auth",
    )
    assert claims["roles"] == ["admin"]
    assert claims["client_id"] == "portal-web"
    assert {"iss", "sub", "aud", "exp", "iat", "jti", "scope"} <= claims.keys()
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "admin"
    assert me.json()["id"] == claims["sub"]


async def test_shared_token_verifier_accepts_identity_tokens(
    app: FastAPI, client: httpx.AsyncClient, parties: None
) -> None:
    tokens = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    verifier = TokenVerifier(
        issuer="http://localhost:8000/auth",
        audience="portal-api",
        jwks_url="http://identity/auth/jwks",
        http=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity"),
    )
    try:
        principal = await verifier.verify(tokens.access_token)
    finally:
        await verifier.aclose()
    assert principal.has_role("admin")
    assert principal.client_id == "portal-web"
    assert not principal.is_client


async def test_authorization_response_names_the_issuer(
    client: httpx.AsyncClient, parties: None
) -> None:
    _, challenge = pkce_pair()
    response = await submit_login(client, authorize_params(challenge), "admin", ADMIN_PASSWORD)
    assert redirect_query(response)["iss"] == "http://localhost:8000/auth"


async def test_id_token_and_userinfo_describe_the_person(
    client: httpx.AsyncClient, parties: None
) -> None:
    tokens = await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)
    assert tokens.id_token is not None
    jwks = (await client.get("/auth/jwks")).json()
    header = jwt.get_unverified_header(tokens.id_token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    id_claims = jwt.decode(
        tokens.id_token, key=jwt.PyJWK(key), algorithms=["RS256"], audience="portal-web"
    )
    assert id_claims["given_name"] == "Aigerim"
    info = await client.get(
        "/auth/userinfo", headers={"Authorization": f"Bearer {tokens.access_token}"}
    )
    assert info.status_code == 200
    assert info.json()["sub"] == id_claims["sub"]
    assert info.json()["email"] == "admin@example.kz"


async def test_discovery_lists_every_endpoint(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/auth/.well-known/openid-configuration")).json()
    assert doc["issuer"] == "http://localhost:8000/auth"
    for name in (
        "authorization",
        "token",
        "userinfo",
        "revocation",
        "introspection",
        "end_session",
    ):
        assert doc[f"{name}_endpoint"].startswith("http://localhost:8000/auth/")
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "password" not in doc["grant_types_supported"]
    assert doc["response_types_supported"] == ["code"]
