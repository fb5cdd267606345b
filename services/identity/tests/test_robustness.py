"""No input makes the identity service fail with a 500: odd OAuth requests get OAuth errors
or problem+json, each with a status its OpenAPI document declares, and the document renders."""

from __future__ import annotations

import httpx
import pytest

ODD_REQUESTS: list[tuple[str, str, dict[str, str] | None]] = [
    ("GET", "/auth/authorize", None),
    ("GET", "/auth/authorize?client_id=portal-web&client_id=other&response_type=code", None),
    ("GET", "/auth/authorize?response_type=code&client_id=portal-web&redirect_uri=%00", None),
    ("GET", "/auth/authorize?response_type=code&client_id=" + "x" * 5000, None),
    ("POST", "/auth/authorize", {"username": "a", "password": "b"}),
    ("POST", "/auth/token", None),
    ("POST", "/auth/token", {"grant_type": "authorization_code", "client_id": "portal-web"}),
    (
        "POST",
        "/auth/token",
        {"grant_type": "authorization_code", "code": "x", "client_id": "nobody"},
    ),
    ("POST", "/auth/token", {"grant_type": "refresh_token", "client_id": "portal-web"}),
    (
        "POST",
        "/auth/token",
        {"grant_type": "refresh_token", "refresh_token": "x", "client_id": "portal-web"},
    ),
    ("POST", "/auth/token", {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}),
    ("POST", "/auth/token", {"grant_type": "pass\x00word", "scope": "\x01"}),
    ("POST", "/auth/authorize", {"client_id": "portal-web", "redirect_uri": "\x00"}),
    ("POST", "/auth/revoke", {"token": "garbage", "client_id": "portal-web"}),
    ("POST", "/auth/revoke", {"client_id": "portal-web"}),
    ("POST", "/auth/introspect", {"token": "a.b.c"}),
    # Found by the fuzz suite once the form was documented: NUL cannot even be looked up.
    ("POST", "/auth/revoke", {"token": "x", "client_id": "\x00web"}),
    ("POST", "/auth/introspect", {"token": "x", "client_id": "\x00rs", "client_secret": "s"}),
    ("POST", "/auth/token", {"grant_type": "client_credentials", "client_id": "\x00web"}),
    ("GET", "/auth/userinfo", None),
    (
        "GET",
        "/auth/logout?id_token_hint=not-a-jwt&post_logout_redirect_uri=https://evil.example/",
        None,
    ),
    ("GET", "/api/v1/users?cursor=%FF%FF", None),
    ("PATCH", "/api/v1/users/not-a-uuid", None),
]


@pytest.mark.parametrize(("method", "path", "form"), ODD_REQUESTS)
async def test_odd_requests_get_an_answer_not_a_crash(
    client: httpx.AsyncClient, parties: None, method: str, path: str, form: dict[str, str] | None
) -> None:
    response = await client.request(method, path, data=form)
    assert 200 <= response.status_code < 500, response.text
    if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
        assert response.json().get("detail")
    # Clients (and the fuzz suite) check answers against the document: it must declare this.
    doc = (await client.get("/openapi.json")).json()
    template = "/api/v1/users/{account_id}" if path.startswith("/api/v1/users/") else path
    declared = doc["paths"][template.split("?")[0]][method.lower()]["responses"]
    assert str(response.status_code) in declared, (response.status_code, sorted(declared))


async def test_openapi_document_renders(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert "/api/v1/residents" in doc["paths"]
    assert "/auth/token" in doc["paths"]
