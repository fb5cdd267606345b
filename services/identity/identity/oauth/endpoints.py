"""The token-side endpoints served through authlib: revocation (RFC 7009) and
introspection (RFC 7662)."""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from identity.oauth import revocation
from identity.oauth.adapter import StarletteOAuth2Request
from identity.oauth.entities import PUBLIC_AUTH, SECRET_AUTH, Client, KnownToken
from identity.oauth.grants import server_ctx

# What an introspection answer may say about an active token.
INTROSPECTED = (
    "scope",
    "client_id",
    "sub",
    "exp",
    "iat",
    "iss",
    "aud",
    "jti",
    "roles",
    "agency_id",
)


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = [*SECRET_AUTH, *PUBLIC_AUTH]

    def query_token(self, token_string: str, token_type_hint: str | None) -> KnownToken | None:
        ctx = server_ctx(self)
        return ctx.call(revocation.find_token, ctx, token_string, token_type_hint)

    def revoke_token(self, token: KnownToken, request: StarletteOAuth2Request) -> None:
        ctx = server_ctx(self)
        ctx.call(revocation.revoke, ctx, token)


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    # Confidential clients only: browsers have no business here.
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = SECRET_AUTH

    def query_token(self, token_string: str, token_type_hint: str | None) -> KnownToken | None:
        ctx = server_ctx(self)
        return ctx.call(revocation.find_token, ctx, token_string, token_type_hint)

    def check_permission(self, token: KnownToken, client: Client, request: Any) -> bool:
        # RFC 7662 2.1/4: a resource server (a client registered for introspection) may ask
        # about any token, another client only about its own; anyone else learns nothing but
        # {"active": false}, so a leaked token cannot be read out by any client at all.
        return client.introspection or token.client_id == client.client_id

    def introspect_token(self, token: KnownToken) -> dict[str, Any]:
        body = {k: token.claims[k] for k in INTROSPECTED if k in token.claims}
        body.update(active=True, token_type=token.kind)
        return body
