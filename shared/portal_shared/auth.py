"""Access-token verification for resource servers (RFC 9068 JWTs from the identity service).

The JWKS is fetched from the issuer and cached; a token signed with a key id we
have not seen triggers one refetch (rate-limited), so a key rotation at the
issuer is picked up without a restart. Only asymmetric algorithms are accepted.
Every token, a cached one included, is checked against the revocation list
(`portal_shared.revocation`), so a revoked token or a disabled account's token
is refused within moments of the revocation, not at its `exp`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import UUID

import httpx
import jwt
from fastapi import Depends, Request
from jwt import PyJWK

from portal_shared.errors import ServiceUnavailable, Unauthorized
from portal_shared.revocation import RevocationList

ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
ROLES = ("resident", "officer", "admin")


@dataclass(frozen=True)
class Principal:
    """Who is calling: an account (resident, officer, admin) or a machine client."""

    subject: str
    client_id: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    agency_id: UUID | None = None
    token_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_client(self) -> bool:
        """A client-credentials token: the client acts for itself, not for an account."""
        return self.subject == self.client_id

    @property
    def account_id(self) -> UUID | None:
        if self.is_client:
            return None
        try:
            return UUID(self.subject)
        except ValueError:
            return None

    def has_role(self, role: str) -> bool:
        return role in self.roles


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        leeway: float = 5.0,
        min_refetch_interval: float = 5.0,
        max_key_age: float = 600.0,
        cache_size: int = 10_000,
        http: httpx.AsyncClient | None = None,
        revocations: RevocationList | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.leeway = leeway
        self.min_refetch_interval = min_refetch_interval
        # Keys are refetched at least this often, so a key the issuer retired (two
        # rotations ago) stops being trusted here too.
        self.max_key_age = max_key_age
        # A verified token is trusted again without its signature check until it expires,
        # as long as the key that signed it is still trusted. Checking an RS256 signature
        # and the claims is much of the CPU an API call costs, and a client reuses its
        # token for many calls.
        self.cache_size = cache_size
        self._verified: dict[str, tuple[Principal, float, str]] = {}
        self._http = http or httpx.AsyncClient(timeout=5.0)
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = -float("inf")
        self._lock = asyncio.Lock()
        # Fed by a RevocationFeed (create_service_app, the gateway); empty without one.
        self.revocations = revocations if revocations is not None else RevocationList()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            if not force and self._keys:
                return
            if time.monotonic() - self._fetched_at < self.min_refetch_interval and self._keys:
                return
            try:
                response = await self._http.get(self.jwks_url)
                response.raise_for_status()
                data = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise ServiceUnavailable(message_key="error.issuer-keys-unavailable") from exc
            keys: dict[str, PyJWK] = {}
            for jwk in data.get("keys", []):
                kid = jwk.get("kid")
                if not kid or jwk.get("use", "sig") != "sig":
                    continue
                try:
                    keys[kid] = PyJWK(jwk)
                except jwt.PyJWTError:
                    continue
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def _key_for(self, kid: str) -> PyJWK:
        stale = time.monotonic() - self._fetched_at > self.max_key_age
        if kid not in self._keys or stale:
            await self._refresh(force=True)
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized(message_key="error.token-unknown-key")
        return key

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires, kid = cached
            fresh = time.monotonic() - self._fetched_at <= self.max_key_age
            if expires > time.time() and fresh and kid in self._keys:
                self._refuse_revoked(token, principal)
                return principal
            del self._verified[token]
        principal, kid = await self._verify(token)
        self._refuse_revoked(token, principal)
        if len(self._verified) >= self.cache_size:
            # Dicts keep insertion order: drop the oldest tenth rather than everything.
            for old in list(itertools.islice(self._verified, self.cache_size // 10 or 1)):
                del self._verified[old]
        self._verified[token] = (principal, float(principal.claims["exp"]), kid)
        return principal

    def _refuse_revoked(self, token: str, principal: Principal) -> None:
        reason = self.revocations.refusal(principal.claims)
        if reason is not None:
            self._verified.pop(token, None)
            raise Unauthorized(message_key=reason)

    async def verify_bearer(self, token: str) -> Principal:
        """`verify`, with the RFC 6750 challenge a refusal of a bearer token carries."""
        try:
            return await self.verify(token)
        except Unauthorized as exc:
            exc.headers.setdefault(
                "WWW-Authenticate",
                f'Bearer error="invalid_token", error_description="{exc.detail}"',
            )
            raise

    async def _verify(self, token: str) -> tuple[Principal, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(message_key="error.token-malformed") from exc
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise Unauthorized(message_key="error.token-algorithm")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise Unauthorized(message_key="error.token-not-access")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized(message_key="error.token-no-key-id")
        key = await self._key_for(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[header["alg"]],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "client_id", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized(message_key="error.token-expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized(message_key="error.token-audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized(message_key="error.token-issuer") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(
                message_key="error.token-invalid", params={"reason": str(exc)}
            ) from exc
        return principal_from_claims(claims), kid


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    roles = claims.get("roles") or []
    scope = claims.get("scope") or ""
    agency = claims.get("agency_id")
    try:
        agency_id = UUID(str(agency)) if agency else None
    except ValueError as exc:
        raise Unauthorized(message_key="error.token-agency-id") from exc
    if not isinstance(roles, list) or not isinstance(scope, str):
        raise Unauthorized(message_key="error.token-claims")
    return Principal(
        subject=str(claims["sub"]),
        client_id=str(claims["client_id"]),
        roles=frozenset(str(r) for r in roles if r in ROLES),
        scopes=frozenset(scope.split()),
        agency_id=agency_id,
        token_id=str(claims.get("jti")),
        claims=claims,
    )


def parse_bearer(header: str | None, *, other_schemes: bool = False) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value; None without a header.

    Any other scheme is refused (401), unless `other_schemes`: then it is someone else's
    to check (the gateway lets a client's Basic credentials through to the token endpoint).
    """
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        if other_schemes:
            return None
        raise _malformed_authorization()
    token = token.strip()
    if not token:
        raise _malformed_authorization()
    return token


def _malformed_authorization() -> Unauthorized:
    return Unauthorized(
        message_key="error.authorization-malformed",
        headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
    )


def bearer_token(request: Request) -> str | None:
    return parse_bearer(request.headers.get("authorization"))


async def _optional_principal(request: Request) -> Principal | None:
    token = bearer_token(request)
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify_bearer(token)


async def _principal(
    principal: Annotated[Principal | None, Depends(_optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized(
            message_key="error.bearer-needed", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


OptionalPrincipalDep = Annotated[Principal | None, Depends(_optional_principal)]
PrincipalDep = Annotated[Principal, Depends(_principal)]
