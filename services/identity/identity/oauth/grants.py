"""The grants and extensions registered on the server: code with PKCE S256 and OpenID,
refresh with rotation, client credentials, and RFC 9207's `iss` in the redirect.

No implicit or password grant is registered. Each hook hops onto the event loop
through the server's `OAuthContext` (`ctx.call`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode

from identity.oauth import store, tokens
from identity.oauth.adapter import StarletteOAuth2Request
from identity.oauth.context import OAuthContext
from identity.oauth.entities import PUBLIC_AUTH, SECRET_AUTH, Client, Code, Refresh, User


def server_ctx(grant: Any) -> OAuthContext:
    """The context of the server a grant or endpoint is registered on."""
    ctx: OAuthContext = grant.server.ctx
    return ctx


def request_ctx(request: StarletteOAuth2Request) -> OAuthContext:
    ctx: OAuthContext = request.oauth_ctx
    return ctx


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE required for every client, S256 only (RFC 9700 2.1.1; OAuth 2.1)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge with code_challenge_method=S256"
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256; plain is not accepted")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*SECRET_AUTH, *PUBLIC_AUTH]

    def save_authorization_code(self, code: str, request: StarletteOAuth2Request) -> None:
        scope = request.client.get_allowed_scope(request.payload.scope)
        ctx = server_ctx(self)
        ctx.call(store.save_code, ctx, code, request, scope)

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        ctx = server_ctx(self)
        return ctx.call(store.claim_code, ctx, code, client.client_id)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        # Already spent by claim_code, atomically; the row stays to recognise a replay.
        return None

    def authenticate_user(self, authorization_code: Code) -> User | None:
        ctx = server_ctx(self)
        return ctx.call(ctx.load_user, authorization_code.account_id)


class RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*SECRET_AUTH, *PUBLIC_AUTH]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Refresh | None:
        ctx = server_ctx(self)
        return ctx.call(store.claim_refresh, ctx, refresh_token)

    def authenticate_user(self, refresh_token: Refresh) -> User | None:
        ctx = server_ctx(self)
        return ctx.call(ctx.load_user, refresh_token.account_id)

    def revoke_old_credential(self, refresh_token: Refresh) -> None:
        # Spent by claim_refresh already; kept to detect reuse.
        return None


class ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = SECRET_AUTH


class OpenID(OpenIDCode):  # type: ignore[misc]
    def exists_nonce(self, nonce: str, request: StarletteOAuth2Request) -> bool:
        # Codes are single-use and short-lived; the client checks the nonce it sent.
        return False

    def encode_id_token(self, token: dict[str, Any], request: StarletteOAuth2Request) -> str:
        # Signed with PyJWT and the database key, like the access tokens (kid included).
        return tokens.id_token(request_ctx(request), token, request)

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        return tokens.user_claims(user, scope)


class Issuer(IssuerParameter):  # type: ignore[misc]
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer
