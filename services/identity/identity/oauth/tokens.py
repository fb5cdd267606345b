"""Issuing and reading our own JWTs: RFC 9068 access tokens, OIDC ID tokens, their claims.

Both are signed with PyJWT and the database's current key (kid in the header);
`decode_own_jwt` reads back a token this issuer signed with a published key.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import jwt
from authlib.oidc.core.util import create_half_hash
from jwt import PyJWK

from identity.oauth.adapter import StarletteOAuth2Request
from identity.oauth.context import OAuthContext
from identity.oauth.entities import Client, Code, User


def generate_token(
    ctx: OAuthContext,
    grant_type: str,
    client: Client,
    user: User | None = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """An RFC 9068 access token (and a refresh token for user grants)."""
    key = ctx.signing_key()
    settings = ctx.settings
    # authlib hands client_credentials the raw requested scope: never grant beyond the
    # client's registration (and with none requested, grant what it is registered for).
    scope = client.get_allowed_scope(scope)
    ttl = settings.client_credentials_ttl if user is None else settings.access_token_ttl
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.token_audience,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "client_id": client.client_id,
        "scope": scope or "",
    }
    if user is None:
        claims.update(sub=client.client_id, roles=[])
        if client.agency_id is not None:
            claims["agency_id"] = str(client.agency_id)
    else:
        claims.update(sub=str(user.id), roles=list(user.roles))
        if user.agency_id is not None:
            claims["agency_id"] = str(user.agency_id)
    access = jwt.encode(
        claims, key.private_pem, algorithm=key.alg, headers={"kid": key.kid, "typ": "at+jwt"}
    )
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": ttl,
        "scope": scope or "",
    }
    if include_refresh_token and user is not None:
        token["refresh_token"] = secrets.token_urlsafe(48)
    return token


def id_token(ctx: OAuthContext, token: dict[str, Any], request: StarletteOAuth2Request) -> str:
    key = ctx.signing_key()
    code: Code = request.authorization_code
    user: User = request.user
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ctx.settings.issuer,
        "sub": str(user.id),
        "aud": request.client.client_id,
        "azp": request.client.client_id,
        "iat": now,
        "exp": now + ctx.settings.id_token_ttl,
        "auth_time": code.auth_time,
        "amr": ["pwd"],
    }
    if code.nonce:
        claims["nonce"] = code.nonce
    at_hash = create_half_hash(token["access_token"], key.alg)
    if at_hash is not None:
        claims["at_hash"] = at_hash.decode()
    claims.update(user_claims(user, token.get("scope", "")))
    return jwt.encode(claims, key.private_pem, algorithm=key.alg, headers={"kid": key.kid})


def user_claims(user: User, scope: str) -> dict[str, Any]:
    """OIDC standard claims the scope allows (ID token and userinfo)."""
    scopes = set(scope.split())
    claims: dict[str, Any] = {"roles": list(user.roles)}
    if user.agency_id is not None:
        claims["agency_id"] = str(user.agency_id)
    if "profile" in scopes:
        claims.update(
            given_name=user.given_name,
            family_name=user.family_name,
            name=f"{user.given_name} {user.family_name}",
        )
        if user.username:
            claims["preferred_username"] = user.username
    if "email" in scopes and user.email:
        # Nobody has proven ownership of the address yet.
        claims.update(email=user.email, email_verified=False)
    if "phone" in scopes and user.phone:
        claims.update(phone_number=user.phone, phone_number_verified=False)
    return claims


def decode_own_jwt(
    ctx: OAuthContext, value: str, *, verify_aud: bool = True, verify_exp: bool = True
) -> dict[str, Any] | None:
    """Claims of a token this issuer signed with a published key, or None."""
    try:
        header = jwt.get_unverified_header(value)
    except jwt.PyJWTError:
        return None
    jwk = next((k for k in ctx.jwks if k.get("kid") == header.get("kid")), None)
    if jwk is None or header.get("alg") != jwk.get("alg"):
        return None
    try:
        claims: dict[str, Any] = jwt.decode(
            value,
            key=PyJWK(jwk),
            algorithms=[str(jwk["alg"])],
            issuer=ctx.settings.issuer,
            audience=ctx.settings.token_audience if verify_aud else None,
            options={
                "verify_exp": verify_exp,
                "verify_aud": verify_aud,
                "require": ["exp", "iat", "iss", "sub"],
            },
        )
    except jwt.PyJWTError:
        return None
    return claims
