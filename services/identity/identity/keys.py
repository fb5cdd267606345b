"""Token signing keys: kept in the identity database, private halves encrypted at rest.

One key is `current` (it signs), the one before it is `previous` (it only
verifies, so tokens it signed stay valid until they expire), older ones are
`retired`. The JWKS publishes current and previous. Rotation is one
transaction under an advisory lock, so replicas never make two current keys.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from identity.models import SigningKey

ALGORITHM = "RS256"
# pg_advisory_xact_lock id for key creation and rotation (any constant unique to this database).
_KEY_LOCK = 0x1D_E7_17_01


@dataclass(frozen=True)
class ActiveKey:
    """The key that signs now, ready for PyJWT."""

    kid: str
    alg: str
    private_pem: bytes


def _fernet(secret: str) -> Fernet:
    # Fernet wants 32 url-safe base64 bytes; the configured secret may be any string.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def _new_key_material(secret: str) -> tuple[str, bytes, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = uuid.uuid4().hex[:16]
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return kid, _fernet(secret).encrypt(pem), jwk


async def _lock(session: AsyncSession) -> None:
    await session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})


async def rotate(session: AsyncSession, secret: str) -> str:
    """Make a new current key; the current one becomes previous, the previous retires."""
    # RSA generation takes ~100 ms of CPU: off the event loop.
    kid, encrypted, jwk = await run_in_threadpool(_new_key_material, secret)
    await _lock(session)
    await session.execute(
        sa.update(SigningKey).where(col(SigningKey.status) == "previous").values(status="retired")
    )
    await session.execute(
        sa.update(SigningKey).where(col(SigningKey.status) == "current").values(status="previous")
    )
    session.add(
        SigningKey(kid=kid, status="current", private_key_encrypted=encrypted, public_jwk=jwk)
    )
    await session.flush()
    return kid


async def ensure_current(session: AsyncSession, secret: str) -> None:
    """Create the first key if there is none (first start-up of a fresh database)."""
    await _lock(session)
    found = await session.scalar(select(SigningKey.kid).where(col(SigningKey.status) == "current"))
    if found is None:
        await rotate(session, secret)


async def current_key(session: AsyncSession, secret: str) -> ActiveKey:
    row = (
        await session.execute(select(SigningKey).where(col(SigningKey.status) == "current"))
    ).scalar_one_or_none()
    if row is None:
        await ensure_current(session, secret)
        return await current_key(session, secret)
    try:
        pem = _fernet(secret).decrypt(row.private_key_encrypted)
    except InvalidToken as exc:
        raise RuntimeError(
            "The signing key cannot be decrypted: KEY_ENCRYPTION_SECRET differs from the one "
            "that encrypted it"
        ) from exc
    return ActiveKey(kid=row.kid, alg=row.alg, private_pem=pem)


async def published_keys(session: AsyncSession) -> list[dict[str, Any]]:
    """The public JWKs of the current and previous keys, current first."""
    rows = (
        await session.execute(
            select(SigningKey)
            .where(col(SigningKey.status).in_(("current", "previous")))
            .order_by(col(SigningKey.created_at).desc())
        )
    ).scalars()
    return [dict(r.public_jwk) for r in rows]
