"""Codes and refresh tokens in the database: saved as hashes, claimed atomically.

A code is single-use and claimed in one statement, so two racing exchanges
cannot both succeed; a code presented again revokes what it issued. A refresh
token is spent on every use (rotation); a spent one presented again revokes
its family (RFC 9700 4.14.2).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import sqlalchemy as sa
from sqlmodel import col, select

from identity.models import AuthorizationCode, RefreshToken
from identity.oauth import revocation
from identity.oauth.adapter import StarletteOAuth2Request
from identity.oauth.context import OAuthContext
from identity.oauth.entities import Code, Refresh, token_hash


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def save_code(
    ctx: OAuthContext, code: str, request: StarletteOAuth2Request, scope: str
) -> None:
    data = request.payload.data
    ctx.session.add(
        AuthorizationCode(
            code_hash=token_hash(code),
            client_id=request.client.client_id,
            account_id=request.user.id,
            redirect_uri=data["redirect_uri"],
            scope=scope,
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            auth_time=int(time.time()),
            expires_at=_utcnow() + dt.timedelta(seconds=ctx.settings.authorization_code_ttl),
        )
    )
    await ctx.session.flush()


async def claim_code(ctx: OAuthContext, code: str, client_id: str) -> Code | None:
    """Mark the code used and return it, in one statement, so two racing exchanges
    cannot both succeed. A code presented again revokes the tokens it issued."""
    digest = token_hash(code)
    row = (
        await ctx.session.execute(
            sa.update(AuthorizationCode)
            .where(
                col(AuthorizationCode.code_hash) == digest,
                col(AuthorizationCode.client_id) == client_id,
                col(AuthorizationCode.used_at).is_(None),
                col(AuthorizationCode.expires_at) > sa.func.now(),
            )
            .values(used_at=sa.func.now())
            .returning(AuthorizationCode)
        )
    ).scalar_one_or_none()
    if row is None:
        used = await ctx.session.scalar(
            select(AuthorizationCode.id).where(
                col(AuthorizationCode.code_hash) == digest,
                col(AuthorizationCode.used_at).is_not(None),
            )
        )
        if used is not None:
            await revocation.revoke_family(ctx, used, revocation.CODE_REPLAYED)
        return None
    return Code(
        id=row.id,
        client_id=row.client_id,
        account_id=row.account_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        nonce=row.nonce,
        code_challenge=row.code_challenge,
        code_challenge_method=row.code_challenge_method,
        auth_time=row.auth_time,
    )


async def claim_refresh(ctx: OAuthContext, value: str) -> Refresh | None:
    """Spend a refresh token (rotation); a spent one presented again revokes its family."""
    digest = token_hash(value)
    row = (
        await ctx.session.execute(
            sa.update(RefreshToken)
            .where(
                col(RefreshToken.token_hash) == digest,
                col(RefreshToken.used_at).is_(None),
                col(RefreshToken.revoked_at).is_(None),
                col(RefreshToken.expires_at) > sa.func.now(),
            )
            .values(used_at=sa.func.now())
            .returning(RefreshToken)
        )
    ).scalar_one_or_none()
    if row is None:
        spent = (
            await ctx.session.execute(
                select(RefreshToken).where(
                    col(RefreshToken.token_hash) == digest,
                    col(RefreshToken.used_at).is_not(None),
                )
            )
        ).scalar_one_or_none()
        if spent is not None:
            await revocation.revoke_family(ctx, spent.family_id, revocation.REFRESH_TOKEN_REUSED)
        return None
    return Refresh(
        id=row.id,
        family_id=row.family_id,
        client_id=row.client_id,
        account_id=row.account_id,
        scope=row.scope,
        auth_time=row.auth_time,
    )


async def save_refresh(
    ctx: OAuthContext,
    value: str,
    family_id: uuid.UUID,
    client_id: str,
    account_id: uuid.UUID,
    scope: str,
    auth_time: int,
) -> None:
    ctx.session.add(
        RefreshToken(
            token_hash=token_hash(value),
            family_id=family_id,
            client_id=client_id,
            account_id=account_id,
            scope=scope,
            auth_time=auth_time,
            expires_at=_utcnow() + dt.timedelta(seconds=ctx.settings.refresh_token_ttl),
        )
    )
    await ctx.session.flush()
