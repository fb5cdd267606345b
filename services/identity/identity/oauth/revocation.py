"""Revocation at the issuer: finding a presented token, revoking it or its whole grant.

RFC 7009 2.1: revoking a refresh token ends the grant it belongs to (its family).
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlmodel import col, select

from identity.models import RefreshToken, RevokedAccessToken
from identity.oauth.context import OAuthContext
from identity.oauth.entities import KnownToken, token_hash
from identity.oauth.tokens import decode_own_jwt


async def revoke_family(ctx: OAuthContext, family_id: uuid.UUID) -> None:
    await ctx.session.execute(
        sa.update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=sa.func.now())
    )


async def find_token(ctx: OAuthContext, value: str, hint: str | None) -> KnownToken | None:
    if hint != "refresh_token":
        claims = decode_own_jwt(ctx, value)
        if claims is not None:
            revoked = await ctx.session.get(RevokedAccessToken, str(claims.get("jti")))
            return KnownToken(
                kind="access_token",
                client_id=str(claims.get("client_id")),
                expires_at=int(claims.get("exp", 0)),
                revoked=revoked is not None,
                claims=claims,
            )
    row = (
        await ctx.session.execute(
            select(RefreshToken).where(col(RefreshToken.token_hash) == token_hash(value))
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return KnownToken(
        kind="refresh_token",
        client_id=row.client_id,
        expires_at=int(row.expires_at.timestamp()),
        revoked=row.revoked_at is not None or row.used_at is not None,
        claims={
            "sub": str(row.account_id),
            "scope": row.scope,
            "client_id": row.client_id,
            "exp": int(row.expires_at.timestamp()),
            "iat": int(row.created_at.timestamp()),
            "iss": ctx.settings.issuer,
        },
        family_id=row.family_id,
    )


async def revoke(ctx: OAuthContext, token: KnownToken) -> None:
    if token.kind == "refresh_token" and token.family_id is not None:
        # RFC 7009 2.1: revoking a refresh token ends the whole grant.
        await revoke_family(ctx, token.family_id)
    elif token.kind == "access_token":
        expires = dt.datetime.fromtimestamp(token.expires_at, dt.UTC)
        await ctx.session.execute(
            sa.dialects.postgresql.insert(RevokedAccessToken)
            .values(jti=str(token.claims["jti"]), expires_at=expires)
            .on_conflict_do_nothing()
        )
