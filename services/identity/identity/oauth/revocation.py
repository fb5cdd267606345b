"""Revocation at the issuer: finding a presented token, revoking it or its whole grant,
and telling every resource server.

RFC 7009 2.1: revoking a refresh token ends the grant it belongs to (its family),
access tokens included; RFC 6749 4.1.2: a replayed code revokes what it issued.
An access token is a JWT that verifies anywhere until its `exp`, so each revoked
one is also published on `identity.token` (through the outbox, in the same
transaction), which every `TokenVerifier` reads into its denylist.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from identity import events
from identity.models import Account, IssuedAccessToken, RefreshToken, RevokedAccessToken
from identity.oauth.context import OAuthContext
from identity.oauth.entities import KnownToken, token_hash
from identity.oauth.tokens import decode_own_jwt

CODE_REPLAYED = "code_replayed"
REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105 -- a reason, not a secret
GRANT_REVOKED = "grant_revoked"
REVOKED = "revoked"
LOGOUT = "logout"
ACCOUNT_DISABLED = "account_disabled"


async def record_access_token(
    session: AsyncSession, claims: dict[str, object], family_id: uuid.UUID
) -> None:
    """Remember which grant an access token was issued to, until it expires."""
    session.add(
        IssuedAccessToken(
            jti=str(claims["jti"]),
            family_id=family_id,
            account_id=uuid.UUID(str(claims["sub"])),
            client_id=str(claims["client_id"]),
            expires_at=dt.datetime.fromtimestamp(int(str(claims["exp"])), dt.UTC),
        )
    )
    await session.flush()


async def _deny(
    session: AsyncSession, tokens: Sequence[tuple[str, dt.datetime]]
) -> list[tuple[str, int]]:
    """Insert the revocations; returns those that are new (a repeat publishes nothing)."""
    if not tokens:
        return []
    inserted = await session.execute(
        insert(RevokedAccessToken)
        .values([{"jti": jti, "expires_at": exp} for jti, exp in tokens])
        .on_conflict_do_nothing()
        .returning(col(RevokedAccessToken.jti), col(RevokedAccessToken.expires_at))
    )
    return [(jti, int(exp.timestamp())) for jti, exp in inserted.all()]


async def revoke_families(
    session: AsyncSession, family_ids: Sequence[uuid.UUID], *, reason: str
) -> None:
    """End grants: their refresh tokens and every unexpired access token issued to them."""
    if not family_ids:
        return
    await session.execute(
        sa.update(RefreshToken)
        .where(col(RefreshToken.family_id).in_(family_ids), col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=sa.func.now())
    )
    issued = (
        await session.execute(
            select(IssuedAccessToken).where(
                col(IssuedAccessToken.family_id).in_(family_ids),
                col(IssuedAccessToken.expires_at) > sa.func.now(),
            )
        )
    ).scalars()
    by_party: dict[tuple[str, str], list[tuple[str, dt.datetime]]] = {}
    for row in issued:
        by_party.setdefault((str(row.account_id), row.client_id), []).append(
            (row.jti, row.expires_at)
        )
    for (subject, client_id), tokens in by_party.items():
        await events.tokens_revoked(
            session,
            subject=subject,
            client_id=client_id,
            reason=reason,
            tokens=await _deny(session, tokens),
        )


async def revoke_account(session: AsyncSession, account_id: uuid.UUID) -> None:
    """Disabling an account ends all its grants. Resource servers refuse its tokens from the
    `identity.user.disabled.v1` event on; revoking each by jti as well keeps the ones from
    before the disabling refused once the account is enabled again."""
    families = await session.scalars(
        select(RefreshToken.family_id)
        .distinct()
        .where(col(RefreshToken.account_id) == account_id, col(RefreshToken.revoked_at).is_(None))
    )
    issued = await session.scalars(
        select(IssuedAccessToken.family_id)
        .distinct()
        .where(
            col(IssuedAccessToken.account_id) == account_id,
            col(IssuedAccessToken.expires_at) > sa.func.now(),
        )
    )
    await revoke_families(
        session, list(dict.fromkeys([*families, *issued])), reason=ACCOUNT_DISABLED
    )


async def revoke_family(ctx: OAuthContext, family_id: uuid.UUID, reason: str) -> None:
    await revoke_families(ctx.session, [family_id], reason=reason)


async def find_token(ctx: OAuthContext, value: str, hint: str | None) -> KnownToken | None:
    if hint != "refresh_token":
        claims = decode_own_jwt(ctx, value)
        if claims is not None:
            revoked = await ctx.session.get(RevokedAccessToken, str(claims.get("jti")))
            return KnownToken(
                kind="access_token",
                client_id=str(claims.get("client_id")),
                expires_at=int(claims.get("exp", 0)),
                revoked=revoked is not None or not await _account_active(ctx, claims),
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


async def _account_active(ctx: OAuthContext, claims: dict[str, object]) -> bool:
    """A person's token is only as good as their account (a client's has no account)."""
    if claims.get("sub") == claims.get("client_id"):
        return True
    try:
        account_id = uuid.UUID(str(claims.get("sub")))
    except ValueError:
        return False
    account = await ctx.session.get(Account, account_id)
    return account is not None and account.status == "active"


async def revoke(ctx: OAuthContext, token: KnownToken) -> None:
    if token.kind == "refresh_token" and token.family_id is not None:
        # RFC 7009 2.1: revoking a refresh token ends the whole grant.
        await revoke_family(ctx, token.family_id, GRANT_REVOKED)
    elif token.kind == "access_token":
        expires = dt.datetime.fromtimestamp(token.expires_at, dt.UTC)
        fresh = await _deny(ctx.session, [(str(token.claims["jti"]), expires)])
        await events.tokens_revoked(
            ctx.session,
            subject=str(token.claims["sub"]),
            client_id=token.client_id,
            reason=REVOKED,
            tokens=fresh,
        )
