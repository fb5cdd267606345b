"""The authorization server: one per request, around that request's `OAuthContext`."""

from __future__ import annotations

import functools
from typing import Any

import jwt
from authlib.oauth2 import AuthorizationServer

from identity.oauth import revocation, store, tokens
from identity.oauth.adapter import AuthlibResponse, StarletteOAuth2Request
from identity.oauth.context import OAuthContext
from identity.oauth.endpoints import Introspection, Revocation
from identity.oauth.entities import Client
from identity.oauth.grants import (
    ClientCredentials,
    CodeGrant,
    Issuer,
    OpenID,
    RefreshGrant,
    S256CodeChallenge,
)


class PortalAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, ctx: OAuthContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.register_token_generator("default", functools.partial(tokens.generate_token, ctx))
        self.register_grant(CodeGrant, [S256CodeChallenge(required=True), OpenID()])
        self.register_grant(RefreshGrant)
        self.register_grant(ClientCredentials)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        self.register_extension(Issuer(ctx.settings.issuer))

    def query_client(self, client_id: str) -> Client | None:
        return self.ctx.call(self.ctx.load_client, client_id)

    def save_token(self, token: dict[str, Any], request: StarletteOAuth2Request) -> None:
        if request.user is None:
            return  # client credentials: no grant to revoke it with, nothing to keep
        if request.authorization_code is not None:
            family, auth_time = request.authorization_code.id, request.authorization_code.auth_time
        else:
            family, auth_time = request.refresh_token.family_id, request.refresh_token.auth_time
        # Signed a moment ago by this very server: its claims need no second check.
        claims = jwt.decode(token["access_token"], options={"verify_signature": False})
        self.ctx.call(revocation.record_access_token, self.ctx.session, claims, family)
        value = token.get("refresh_token")
        if not value:
            return
        self.ctx.call(
            store.save_refresh,
            self.ctx,
            value,
            family,
            request.client.client_id,
            request.user.id,
            token.get("scope", ""),
            auth_time,
        )

    def create_oauth2_request(self, request: StarletteOAuth2Request) -> StarletteOAuth2Request:
        request.oauth_ctx = self.ctx
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON endpoints are served through authlib")

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> AuthlibResponse:
        return AuthlibResponse(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None
