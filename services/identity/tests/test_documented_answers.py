"""The token-side OAuth endpoints answer what identity's OpenAPI document says they do: a
client generated from it parses the token response, the JWK Set, introspection (active or
not) and revocation's answer, and learns to send a form with HTTP Basic or form credentials."""

from __future__ import annotations

from typing import Any

import httpx
from jsonschema import Draft202012Validator

from portal_shared.openapi import CLIENT_BASIC
from portal_testing.oidc import TEST_AGENCY_ID, Tokens, refresh

FORM = "application/x-www-form-urlencoded"


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _assert_documented(
    document: dict[str, Any], path: str, answer: httpx.Response, body: Any = None
) -> None:
    """The answer's body (or `body`, what it said) is valid against the schema the
    document gives its status."""
    method = answer.request.method.lower()
    documented = document["paths"][path][method]["responses"][str(answer.status_code)]
    schema = documented["content"]["application/json"]["schema"]
    root = {**schema, "components": document["components"]}
    body = answer.json() if body is None else body
    errors = [e.message for e in Draft202012Validator(root).iter_errors(body)]
    assert not errors, f"{method} {path} {answer.status_code}: {errors}"


async def test_token_side_endpoints_answer_as_documented(
    client: httpx.AsyncClient, admin_headers: dict[str, str], admin_tokens: Tokens
) -> None:
    document = await _document(client)
    created = await client.post(
        "/api/v1/clients",
        json={
            "client_id": "resource-server",
            "name": "A resource server",
            "client_type": "confidential",
            "grant_types": ["client_credentials"],
            "scopes": ["requests:read"],
            "agency_id": str(TEST_AGENCY_ID),
            "introspection": True,
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    basic = ("resource-server", created.json()["client_secret"])

    issued = await client.post("/auth/token", data={"grant_type": "client_credentials"}, auth=basic)
    assert issued.status_code == 200, issued.text
    _assert_documented(document, "/auth/token", issued)
    # A person's sign-in (the authorization code flow): an ID token and a refresh token too.
    assert admin_tokens.id_token is not None
    assert admin_tokens.refresh_token is not None
    _assert_documented(document, "/auth/token", issued, admin_tokens.body)
    refreshed = await refresh(client, admin_tokens.refresh_token)
    assert refreshed.status_code == 200, refreshed.text
    _assert_documented(document, "/auth/token", refreshed)

    keys = await client.get("/auth/jwks")
    _assert_documented(document, "/auth/jwks", keys)

    token = issued.json()["access_token"]
    active = await client.post("/auth/introspect", data={"token": token}, auth=basic)
    assert active.json()["active"] is True
    _assert_documented(document, "/auth/introspect", active)
    revoked = await client.post("/auth/revoke", data={"token": token}, auth=basic)
    assert revoked.status_code == 200
    _assert_documented(document, "/auth/revoke", revoked)
    inactive = await client.post("/auth/introspect", data={"token": token}, auth=basic)
    assert inactive.json() == {"active": False}
    _assert_documented(document, "/auth/introspect", inactive)


async def test_the_document_shows_the_forms_and_how_a_client_authenticates(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    assert document["components"]["securitySchemes"][CLIENT_BASIC]["scheme"] == "basic"
    for path, required in (
        ("/auth/token", ["grant_type"]),
        ("/auth/revoke", ["token"]),
        ("/auth/introspect", ["token"]),
    ):
        operation = document["paths"][path]["post"]
        schema = operation["requestBody"]["content"][FORM]["schema"]
        assert schema["required"] == required
        assert {"client_id", "client_secret"} <= schema["properties"].keys()
        # HTTP Basic, or the client's credentials (or a public client's id) in the form.
        assert operation["security"] == [{CLIENT_BASIC: []}, {}]
