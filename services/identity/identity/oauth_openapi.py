"""What the OpenAPI document says about the token-side OAuth endpoints (token, revocation,
introspection) that FastAPI cannot learn from their handlers.

The handlers read their form themselves (authlib parses it), so FastAPI sees no body: the
`application/x-www-form-urlencoded` fields are declared here for each route's
`openapi_extra`, with how a client authenticates (HTTP Basic, or its credentials in the
form), and the success bodies are the models of identity.schemas.
"""

from __future__ import annotations

from typing import Any

from identity.schemas import IntrospectionResponse, JsonWebKeySet, TokenResponse, TokenRevoked
from portal_shared.openapi import CLIENT_BASIC

FORM = "application/x-www-form-urlencoded"

_CLIENT_FIELDS: dict[str, Any] = {
    "client_id": {
        "type": "string",
        "description": "A public client's id, or a confidential client's with client_secret",
    },
    "client_secret": {
        "type": "string",
        "description": "client_secret_post: instead of HTTP Basic (clientBasic)",
    },
}
_TOKEN_FIELDS: dict[str, Any] = {
    "token": {"type": "string", "description": "The access or refresh token"},
    "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
}


def _form(title: str, required: list[str], fields: dict[str, Any]) -> dict[str, Any]:
    """A route's `openapi_extra`: its form body, and client authentication by HTTP Basic or
    by the form's own fields (`{}`: nothing in a header)."""
    schema = {"title": title, "type": "object", "required": required, "properties": fields}
    return {
        "requestBody": {"required": True, "content": {FORM: {"schema": schema}}},
        "security": [{CLIENT_BASIC: []}, {}],
    }


TOKEN_FORM = _form(
    "TokenRequest",
    ["grant_type"],
    {
        "grant_type": {
            "type": "string",
            "enum": ["authorization_code", "refresh_token", "client_credentials"],
        },
        "code": {"type": "string", "description": "authorization_code: from /auth/authorize"},
        "redirect_uri": {
            "type": "string",
            "description": "authorization_code: the one the code was issued for",
        },
        "code_verifier": {
            "type": "string",
            "description": "authorization_code: the PKCE verifier (S256, always required)",
        },
        "refresh_token": {"type": "string", "description": "refresh_token: the current one"},
        "scope": {
            "type": "string",
            "description": "Space-separated; at most what was granted or registered",
        },
        **_CLIENT_FIELDS,
    },
)
REVOKE_FORM = _form("RevocationRequest", ["token"], {**_TOKEN_FIELDS, **_CLIENT_FIELDS})
INTROSPECT_FORM = _form("IntrospectionRequest", ["token"], {**_TOKEN_FIELDS, **_CLIENT_FIELDS})

TOKEN_ISSUED: dict[int | str, dict[str, Any]] = {
    200: {"model": TokenResponse, "description": "The tokens (RFC 6749 5.1)"}
}
KEY_SET: dict[int | str, dict[str, Any]] = {
    200: {"model": JsonWebKeySet, "description": "The JWK Set (RFC 7517 5)"}
}
INTROSPECTED: dict[int | str, dict[str, Any]] = {
    200: {"model": IntrospectionResponse, "description": "The token's state (RFC 7662 2.2)"}
}
REVOKED: dict[int | str, dict[str, Any]] = {
    200: {"model": TokenRevoked, "description": "Revoked, or not a token (RFC 7009 2.2)"}
}
