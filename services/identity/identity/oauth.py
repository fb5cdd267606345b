"""OAuth 2.0 / OIDC on authlib's server classes, with a small Starlette adapter.

authlib's server is synchronous, so every call into it runs in a worker thread
(`run_in_threadpool`). Its storage hooks need the request's async database
session; they hop back onto the event loop with `anyio.from_thread.run`, so the
session is only ever used from the loop, inside the request's one transaction.
A server object is built per request around an `OAuthContext` (session,
settings, the signing key), which keeps the hooks free of globals.

RFC 9700 / OAuth 2.1 choices: PKCE with S256 is required for every client at
the authorize endpoint (plain refused); redirect URIs match exactly; codes are
single-use, live at most 60 s and are claimed atomically, and a replayed code
revokes what it issued; refresh tokens rotate on every use and a spent one
revokes its family; the authorization response carries `iss` (RFC 9207); no
implicit or password grant is registered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import anyio.from_thread
import jwt
import sqlalchemy as sa
from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from jwt import PyJWK
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from starlette.datastructures import Headers

from identity.keys import ActiveKey
from identity.models import (
    Account,
    AuthorizationCode,
    OAuthClient,
    RefreshToken,
    RevokedAccessToken,
)
from identity.passwords import Passwords
from identity.settings import IdentitySettings

T = TypeVar("T")

PUBLIC_AUTH = ["none"]
SECRET_AUTH = ["client_secret_basic", "client_secret_post"]


def token_hash(value: str) -> str:
    """Codes and refresh tokens are stored only as hashes: a database leak yields no credential."""
    return hashlib.sha256(value.encode()).hexdigest()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- what authlib sees ----------------------------------------------------------------------


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


# --- the Starlette adapter ------------------------------------------------------------------


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An authlib request from data Starlette has already read (forms are read asynchronously).

    `headers` must stay Starlette's case-insensitive `Headers`: authlib looks up
    `Authorization` by that exact spelling, and a plain dict of the lower-cased
    ASGI headers makes Basic client authentication fail silently.
    """

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Headers,
        query: Sequence[tuple[str, str]],
        form: Sequence[tuple[str, str]],
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload([*query, *form])

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class AuthlibResponse:
    """What authlib returns, kept framework-free until it is back on the event loop."""

    status: int
    body: Any
    headers: list[tuple[str, str]]

    @property
    def location(self) -> str | None:
        for name, value in self.headers:
            if name.lower() == "location":
                return value
        return None

    @location.setter
    def location(self, value: str) -> None:
        # RFC 9207's extension rewrites the redirect to add `iss`.
        self.headers = [(n, v) for n, v in self.headers if n.lower() != "location"]
        self.headers.append(("Location", value))


# --- the context the hooks use --------------------------------------------------------------


@dataclass
class OAuthContext:
    session: AsyncSession
    settings: IdentitySettings
    passwords: Passwords
    key: ActiveKey | None = None
    jwks: Sequence[dict[str, Any]] = ()

    def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run a coroutine function on the event loop from authlib's worker thread."""
        return anyio.from_thread.run(fn, *args)

    def signing_key(self) -> ActiveKey:
        if self.key is None:
            raise RuntimeError("this endpoint was called without a signing key")
        return self.key

    # storage, run on the event loop -------------------------------------------------------

    async def load_client(self, client_id: str) -> Client | None:
        row = await self.session.get(OAuthClient, client_id)
        if row is None or row.status != "active":
            return None
        return Client.from_row(row, self.passwords)

    async def load_user(self, account_id: uuid.UUID) -> User | None:
        row = await self.session.get(Account, account_id)
        if row is None or row.status != "active":
            return None
        return User.from_row(row)

    async def save_code(self, code: str, request: StarletteOAuth2Request, scope: str) -> None:
        data = request.payload.data
        self.session.add(
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
                expires_at=_utcnow() + dt.timedelta(seconds=self.settings.authorization_code_ttl),
            )
        )
        await self.session.flush()

    async def claim_code(self, code: str, client_id: str) -> Code | None:
        """Mark the code used and return it, in one statement, so two racing exchanges
        cannot both succeed. A code presented again revokes the tokens it issued."""
        digest = token_hash(code)
        row = (
            await self.session.execute(
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
            used = await self.session.scalar(
                select(AuthorizationCode.id).where(
                    col(AuthorizationCode.code_hash) == digest,
                    col(AuthorizationCode.used_at).is_not(None),
                )
            )
            if used is not None:
                await self.revoke_family(used)
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

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        await self.session.execute(
            sa.update(RefreshToken)
            .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
            .values(revoked_at=sa.func.now())
        )

    async def claim_refresh(self, value: str) -> Refresh | None:
        """Spend a refresh token (rotation); a spent one presented again revokes its family."""
        digest = token_hash(value)
        row = (
            await self.session.execute(
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
                await self.session.execute(
                    select(RefreshToken).where(
                        col(RefreshToken.token_hash) == digest,
                        col(RefreshToken.used_at).is_not(None),
                    )
                )
            ).scalar_one_or_none()
            if spent is not None:
                await self.revoke_family(spent.family_id)
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
        self,
        value: str,
        family_id: uuid.UUID,
        client_id: str,
        account_id: uuid.UUID,
        scope: str,
        auth_time: int,
    ) -> None:
        self.session.add(
            RefreshToken(
                token_hash=token_hash(value),
                family_id=family_id,
                client_id=client_id,
                account_id=account_id,
                scope=scope,
                auth_time=auth_time,
                expires_at=_utcnow() + dt.timedelta(seconds=self.settings.refresh_token_ttl),
            )
        )
        await self.session.flush()

    async def find_token(self, value: str, hint: str | None) -> KnownToken | None:
        if hint != "refresh_token":
            claims = self.decode_own_jwt(value)
            if claims is not None:
                revoked = await self.session.get(RevokedAccessToken, str(claims.get("jti")))
                return KnownToken(
                    kind="access_token",
                    client_id=str(claims.get("client_id")),
                    expires_at=int(claims.get("exp", 0)),
                    revoked=revoked is not None,
                    claims=claims,
                )
        row = (
            await self.session.execute(
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
                "iss": self.settings.issuer,
            },
            family_id=row.family_id,
        )

    async def revoke(self, token: KnownToken) -> None:
        if token.kind == "refresh_token" and token.family_id is not None:
            # RFC 7009 2.1: revoking a refresh token ends the whole grant.
            await self.revoke_family(token.family_id)
        elif token.kind == "access_token":
            expires = dt.datetime.fromtimestamp(token.expires_at, dt.UTC)
            await self.session.execute(
                sa.dialects.postgresql.insert(RevokedAccessToken)
                .values(jti=str(token.claims["jti"]), expires_at=expires)
                .on_conflict_do_nothing()
            )

    def decode_own_jwt(
        self, value: str, *, verify_aud: bool = True, verify_exp: bool = True
    ) -> dict[str, Any] | None:
        """Claims of a token this issuer signed with a published key, or None."""
        try:
            header = jwt.get_unverified_header(value)
        except jwt.PyJWTError:
            return None
        jwk = next((k for k in self.jwks if k.get("kid") == header.get("kid")), None)
        if jwk is None or header.get("alg") != jwk.get("alg"):
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                value,
                key=PyJWK(jwk),
                algorithms=[str(jwk["alg"])],
                issuer=self.settings.issuer,
                audience=self.settings.token_audience if verify_aud else None,
                options={
                    "verify_exp": verify_exp,
                    "verify_aud": verify_aud,
                    "require": ["exp", "iat", "iss", "sub"],
                },
            )
        except jwt.PyJWTError:
            return None
        return claims

    # tokens -------------------------------------------------------------------------------

    def generate_token(
        self,
        grant_type: str,
        client: Client,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """An RFC 9068 access token (and a refresh token for user grants)."""
        key = self.signing_key()
        # authlib hands client_credentials the raw requested scope: never grant beyond the
        # client's registration (and with none requested, grant what it is registered for).
        scope = client.get_allowed_scope(scope)
        ttl = (
            self.settings.client_credentials_ttl if user is None else self.settings.access_token_ttl
        )
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "aud": self.settings.token_audience,
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

    def id_token(self, token: dict[str, Any], request: StarletteOAuth2Request) -> str:
        key = self.signing_key()
        code: Code = request.authorization_code
        user: User = request.user
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "sub": str(user.id),
            "aud": request.client.client_id,
            "azp": request.client.client_id,
            "iat": now,
            "exp": now + self.settings.id_token_ttl,
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


# --- grants and extensions ------------------------------------------------------------------


def _ctx(grant: Any) -> OAuthContext:
    ctx: OAuthContext = grant.server.ctx
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
        _ctx(self).call(_ctx(self).save_code, code, request, scope)

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        return _ctx(self).call(_ctx(self).claim_code, code, client.client_id)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        # Already spent by claim_code, atomically; the row stays to recognise a replay.
        return None

    def authenticate_user(self, authorization_code: Code) -> User | None:
        return _ctx(self).call(_ctx(self).load_user, authorization_code.account_id)


class RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*SECRET_AUTH, *PUBLIC_AUTH]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Refresh | None:
        return _ctx(self).call(_ctx(self).claim_refresh, refresh_token)

    def authenticate_user(self, refresh_token: Refresh) -> User | None:
        return _ctx(self).call(_ctx(self).load_user, refresh_token.account_id)

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
        return request_server_ctx(request).id_token(token, request)

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        return user_claims(user, scope)


def request_server_ctx(request: StarletteOAuth2Request) -> OAuthContext:
    ctx: OAuthContext = request.oauth_ctx
    return ctx


class Issuer(IssuerParameter):  # type: ignore[misc]
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = [*SECRET_AUTH, *PUBLIC_AUTH]

    def query_token(self, token_string: str, token_type_hint: str | None) -> KnownToken | None:
        return _ctx(self).call(_ctx(self).find_token, token_string, token_type_hint)

    def revoke_token(self, token: KnownToken, request: StarletteOAuth2Request) -> None:
        _ctx(self).call(_ctx(self).revoke, token)


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    # Resource servers (confidential clients) introspect; browsers have no business here.
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = SECRET_AUTH

    def query_token(self, token_string: str, token_type_hint: str | None) -> KnownToken | None:
        return _ctx(self).call(_ctx(self).find_token, token_string, token_type_hint)

    def check_permission(self, token: KnownToken, client: Client, request: Any) -> bool:
        return client.client_type == "confidential"

    def introspect_token(self, token: KnownToken) -> dict[str, Any]:
        keep = (
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
        body = {k: token.claims[k] for k in keep if k in token.claims}
        body.update(active=True, token_type=token.kind)
        return body


class PortalAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, ctx: OAuthContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.register_token_generator("default", ctx.generate_token)
        self.register_grant(CodeGrant, [S256CodeChallenge(required=True), OpenID()])
        self.register_grant(RefreshGrant)
        self.register_grant(ClientCredentials)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        self.register_extension(Issuer(ctx.settings.issuer))

    def query_client(self, client_id: str) -> Client | None:
        return self.ctx.call(self.ctx.load_client, client_id)

    def save_token(self, token: dict[str, Any], request: StarletteOAuth2Request) -> None:
        value = token.get("refresh_token")
        if not value or request.user is None:
            return
        if request.authorization_code is not None:
            family, auth_time = request.authorization_code.id, request.authorization_code.auth_time
        else:
            family, auth_time = request.refresh_token.family_id, request.refresh_token.auth_time
        self.ctx.call(
            self.ctx.save_refresh,
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
