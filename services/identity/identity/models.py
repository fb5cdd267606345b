"""The identity service's tables. Its own registry keeps them apart from other services'."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from portal_shared.db import new_registry


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _tz(nullable: bool = False) -> sa.Column[dt.datetime]:
    return sa.Column(sa.DateTime(timezone=True), nullable=nullable)


class Base(SQLModel, registry=new_registry()):
    """Base of every table in the identity database."""


class Account(Base, table=True):
    """A person who signs in: a resident (IIN, email) or staff (officer, admin, by username)."""

    __tablename__ = "accounts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str | None = Field(default=None, sa_column=sa.Column(sa.Text, unique=True))
    iin: str | None = Field(default=None, sa_column=sa.Column(sa.String(12), unique=True))
    # Stored lower-cased, so uniqueness and sign-in ignore case.
    email: str | None = Field(default=None, sa_column=sa.Column(sa.Text, unique=True))
    phone: str | None = None
    given_name: str
    family_name: str
    password_hash: str
    roles: list[str] = Field(sa_column=sa.Column(ARRAY(sa.Text), nullable=False))
    agency_id: uuid.UUID | None = None
    status: str = "active"
    version: int = 1
    created_at: dt.datetime = Field(default_factory=_now, sa_column=_tz())
    updated_at: dt.datetime = Field(default_factory=_now, sa_column=_tz())


class OAuthClient(Base, table=True):
    """A registered OAuth client: public (browser/mobile apps) or confidential (agency systems)."""

    __tablename__ = "oauth_clients"

    client_id: str = Field(primary_key=True)
    name: str
    client_type: str  # "public" | "confidential"
    secret_hash: str | None = None
    redirect_uris: list[str] = Field(sa_column=sa.Column(ARRAY(sa.Text), nullable=False))
    post_logout_redirect_uris: list[str] = Field(
        sa_column=sa.Column(ARRAY(sa.Text), nullable=False)
    )
    grant_types: list[str] = Field(sa_column=sa.Column(ARRAY(sa.Text), nullable=False))
    scopes: list[str] = Field(sa_column=sa.Column(ARRAY(sa.Text), nullable=False))
    agency_id: uuid.UUID | None = None
    # A resource server: may introspect any token (RFC 7662); others only their own.
    introspection: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    status: str = "active"
    created_at: dt.datetime = Field(default_factory=_now, sa_column=_tz())
    secret_rotated_at: dt.datetime | None = Field(default=None, sa_column=_tz(True))


class SigningKey(Base, table=True):
    """A token signing key; the private half is encrypted with the key-encryption secret."""

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True)
    alg: str = "RS256"
    # "current" signs; "previous" only verifies (still in the JWKS); "retired" neither.
    status: str = Field(index=True)
    private_key_encrypted: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    public_jwk: dict[str, str] = Field(sa_column=sa.Column(JSONB, nullable=False))
    created_at: dt.datetime = Field(default_factory=_now, sa_column=_tz())


class AuthorizationCode(Base, table=True):
    """A single-use authorization code; only its hash is stored. Kept after use to spot replay."""

    __tablename__ = "authorization_codes"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code_hash: str = Field(sa_column=sa.Column(sa.Text, unique=True, nullable=False))
    client_id: str
    account_id: uuid.UUID
    redirect_uri: str
    scope: str
    nonce: str | None = None
    code_challenge: str
    code_challenge_method: str
    auth_time: int
    expires_at: dt.datetime = Field(sa_column=_tz())
    used_at: dt.datetime | None = Field(default=None, sa_column=_tz(True))


class RefreshToken(Base, table=True):
    """A refresh token (hash only). A family is every token rotated from one authorization;
    a spent token presented again revokes the whole family (RFC 9700 4.14.2)."""

    __tablename__ = "refresh_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(sa_column=sa.Column(sa.Text, unique=True, nullable=False))
    family_id: uuid.UUID = Field(index=True)
    client_id: str
    account_id: uuid.UUID = Field(index=True)
    scope: str
    auth_time: int
    expires_at: dt.datetime = Field(sa_column=_tz())
    used_at: dt.datetime | None = Field(default=None, sa_column=_tz(True))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=_tz(True))
    created_at: dt.datetime = Field(default_factory=_now, sa_column=_tz())


class IssuedAccessToken(Base, table=True):
    """An access token issued to a person's grant (a code and the refresh tokens rotated
    from it): revoking the grant revokes these too (RFC 6749 4.1.2, RFC 7009 2.1)."""

    __tablename__ = "issued_access_tokens"

    jti: str = Field(primary_key=True)
    family_id: uuid.UUID = Field(index=True)
    account_id: uuid.UUID = Field(index=True)
    client_id: str
    expires_at: dt.datetime = Field(sa_column=_tz())


class RevokedAccessToken(Base, table=True):
    """Access tokens revoked before expiry (RFC 7009), so introspection reports them inactive."""

    __tablename__ = "revoked_access_tokens"

    jti: str = Field(primary_key=True)
    expires_at: dt.datetime = Field(sa_column=_tz())


class LoginThrottle(Base, table=True):
    """Failed sign-ins per key ("account:..." or "address:..."), shared by every replica."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True)
    failures: int = 0
    window_started_at: dt.datetime = Field(sa_column=_tz())
    locked_until: dt.datetime | None = Field(default=None, sa_column=_tz(True))


class Agency(Base, table=True):
    """The local copy of the directory's agencies (from directory.agency events)."""

    __tablename__ = "agencies"

    id: uuid.UUID = Field(primary_key=True)
    code: str
    status: str
    version: int
    updated_at: dt.datetime = Field(default_factory=_now, sa_column=_tz())
