"""What authlib sees: the client, the user, a code, a refresh token, a token found again.

Plain frozen dataclasses built from the identity tables, so authlib's worker
thread never touches an ORM object (and never lazy-loads on the wrong thread).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin

from identity.models import Account, OAuthClient
from identity.passwords import Passwords

PUBLIC_AUTH = ["none"]
SECRET_AUTH = ["client_secret_basic", "client_secret_post"]


def token_hash(value: str) -> str:
    """Codes and refresh tokens are stored only as hashes: a database leak yields no credential."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_type: str
    secret_hash: str | None
    redirect_uris: Sequence[str]
    post_logout_redirect_uris: Sequence[str]
    grant_types: Sequence[str]
    scopes: Sequence[str]
    agency_id: uuid.UUID | None
    introspection: bool
    passwords: Passwords = field(repr=False, compare=False)

    @classmethod
    def from_row(cls, row: OAuthClient, passwords: Passwords) -> Client:
        return cls(
            client_id=row.client_id,
            client_type=row.client_type,
            secret_hash=row.secret_hash,
            redirect_uris=tuple(row.redirect_uris),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris),
            grant_types=tuple(row.grant_types),
            scopes=tuple(row.scopes),
            agency_id=row.agency_id,
            introspection=row.introspection,
            passwords=passwords,
        )

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OAuth 2.1: the redirect URI is always sent and compared exactly, never defaulted.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(self.scopes)
        return " ".join(s for s in dict.fromkeys(scope.split()) if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison (RFC 9700 2.1): no prefix, pattern or normalisation.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.secret_hash is not None and self.passwords.verify(
            self.secret_hash, client_secret
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        allowed = PUBLIC_AUTH if self.client_type == "public" else SECRET_AUTH
        return method in allowed

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    roles: Sequence[str]
    agency_id: uuid.UUID | None
    username: str | None
    email: str | None
    phone: str | None
    given_name: str
    family_name: str

    @classmethod
    def from_row(cls, row: Account) -> User:
        return cls(
            id=row.id,
            roles=tuple(row.roles),
            agency_id=row.agency_id,
            username=row.username,
            email=row.email,
            phone=row.phone,
            given_name=row.given_name,
            family_name=row.family_name,
        )

    def get_user_id(self) -> str:
        return str(self.id)


@dataclass(frozen=True)
class Code:
    id: uuid.UUID
    client_id: str
    account_id: uuid.UUID
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return ["pwd"]


@dataclass(frozen=True)
class Refresh:
    id: uuid.UUID
    family_id: uuid.UUID
    client_id: str
    account_id: uuid.UUID
    scope: str
    auth_time: int

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class KnownToken:
    """A token found for revocation or introspection: a refresh token or one of our JWTs."""

    kind: str  # "refresh_token" | "access_token"
    client_id: str
    expires_at: int
    revoked: bool
    claims: dict[str, Any]
    family_id: uuid.UUID | None = None

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def is_expired(self) -> bool:
        return self.expires_at <= int(time.time())

    def is_revoked(self) -> bool:
        return self.revoked

    def get_scope(self) -> str:
        return str(self.claims.get("scope", ""))
