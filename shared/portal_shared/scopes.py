"""The API's OAuth scopes, and the dependency that makes every operation require its scope.

A token carries the scopes its client was allowed and asked for (identity registers each
client's allowed scopes, and grants a sign-in all of them unless it asks for fewer). Every
operation that takes a token names the scopes it needs with `require_scope`, for every
kind of token: a person's (resident, officer, admin) as well as an agency system's. Roles
still apply on top: an officer's action needs the role officer AND the scope
requests:write; the scope says what the person let this client do, the role what the
person may do at all.

A refusal is RFC 6750 3.1's: 403, problem `insufficient-scope`, and
`WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`.

The checks carry their scopes, so each service's OpenAPI document declares them
(`declare_route_scopes` writes them under `x-required-scopes` in a route's `openapi_extra`,
and `portal_shared.openapi` turns that into the operation's `security`).

No `from __future__ import annotations` here: FastAPI reads the signature of
`ScopeCheck.__call__` from an instance, which has no `__globals__` to resolve strings in.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from portal_shared.auth import OptionalPrincipalDep, Principal, PrincipalDep
from portal_shared.errors import Forbidden

# OpenID Connect (identity's sign-in; no API operation needs them).
OPENID = "openid"
PROFILE = "profile"
EMAIL = "email"
PHONE = "phone"
OFFLINE_ACCESS = "offline_access"

# The API. `:read` never implies `:write` nor the other way round.
ACCOUNTS_READ = "accounts:read"
REQUESTS_READ = "requests:read"
REQUESTS_WRITE = "requests:write"
DOCUMENTS_READ = "documents:read"
DOCUMENTS_WRITE = "documents:write"
NOTIFICATIONS_READ = "notifications:read"
NOTIFICATIONS_WRITE = "notifications:write"
EVENTS_SUBSCRIBE = "events:subscribe"
AGENCIES_WRITE = "agencies:write"
SERVICES_WRITE = "services:write"
USERS_ADMIN = "users:admin"
CLIENTS_ADMIN = "clients:admin"

OIDC_SCOPES: dict[str, str] = {
    OPENID: "OpenID Connect sign-in: an ID token and /auth/userinfo",
    PROFILE: "The person's name in the ID token and userinfo",
    EMAIL: "The person's email address in the ID token and userinfo",
    PHONE: "The person's phone number in the ID token and userinfo",
    OFFLINE_ACCESS: "A refresh token",
}

API_SCOPES: dict[str, str] = {
    ACCOUNTS_READ: "Read the signed-in person's own account (GET /api/v1/me)",
    REQUESTS_READ: (
        "Read requests the caller may see: a resident's own, an agency's (officers and"
        " the agency's system), all of them (administrators)"
    ),
    REQUESTS_WRITE: (
        "Submit requests (residents) and take workflow actions on them (the applicant,"
        " the responsible agency's officers and system)"
    ),
    DOCUMENTS_READ: "Read the documents attached to requests the caller may see",
    DOCUMENTS_WRITE: "Upload documents and attach them to requests",
    NOTIFICATIONS_READ: "Read one's notifications and notification preferences",
    NOTIFICATIONS_WRITE: "Mark notifications read and change notification preferences",
    EVENTS_SUBSCRIBE: "Manage webhook subscriptions to the portal's events (agency systems)",
    AGENCIES_WRITE: "Create and change agencies and read their audit trail (administrators)",
    SERVICES_WRITE: (
        "Create, edit, publish and withdraw state services, and read drafts and audit"
        " trails (administrators)"
    ),
    USERS_ADMIN: "Create, read, change and disable accounts (administrators)",
    CLIENTS_ADMIN: (
        "Register OAuth clients, rotate their secrets and the token signing key (administrators)"
    ),
}

SCOPES: dict[str, str] = {**OIDC_SCOPES, **API_SCOPES}
"""Every scope a client may be registered with, and what it allows (OpenAPI's flows)."""

# The key under a route's `openapi_extra` listing the scopes it needs, and whether a token
# is optional there (the shared OpenAPI hook reads it).
SCOPES_KEY = "x-required-scopes"
OPTIONAL_KEY = "x-token-optional"
OAUTH2 = "oauth2"


class InsufficientScope(Forbidden):
    slug = "insufficient-scope"
    title = "Insufficient scope"


def _known(scopes: Iterable[str]) -> tuple[str, ...]:
    scopes = tuple(scopes)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        # A typo in a route would otherwise make it refuse every token.
        raise ValueError(f"unknown scopes {unknown}")
    return scopes


def refuse_missing(principal: Principal, scopes: tuple[str, ...]) -> None:
    """Raise InsufficientScope unless the token holds every one of `scopes`."""
    missing = [s for s in scopes if s not in principal.scopes]
    if missing:
        wanted = " ".join(scopes)
        raise InsufficientScope(
            message_key="error.scope-missing",
            params={"scopes": ", ".join(missing)},
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{wanted}"'},
        )


def _refuse_role(principal: Principal, roles: tuple[str, ...]) -> None:
    if roles and not any(principal.has_role(r) for r in roles):
        raise Forbidden(message_key="error.role-needed", params={"roles": " / ".join(roles)})


@dataclass(frozen=True)
class ScopeCheck:
    """A dependency: a token holding every scope (and, if given, one of the roles)."""

    scopes: tuple[str, ...]
    roles: tuple[str, ...] = ()

    async def __call__(self, principal: PrincipalDep) -> Principal:
        refuse_missing(principal, self.scopes)
        _refuse_role(principal, self.roles)
        return principal


@dataclass(frozen=True)
class OptionalScopeCheck:
    """A dependency for an operation anyone may call, which shows more to a token holding
    every scope (and one of the roles): that principal, or None (the public view) for no
    token or a token without them. An invalid token is still refused (401)."""

    scopes: tuple[str, ...]
    roles: tuple[str, ...] = ()

    async def __call__(self, principal: OptionalPrincipalDep) -> Principal | None:
        if principal is None:
            return None
        if any(s not in principal.scopes for s in self.scopes):
            return None
        if self.roles and not any(principal.has_role(r) for r in self.roles):
            return None
        return principal


def require_scope(*scopes: str, roles: Iterable[str] = ()) -> ScopeCheck:
    """`Depends(require_scope(REQUESTS_WRITE, roles=("officer",)))`: 401 without a valid
    token, 403 insufficient-scope without every scope, 403 without one of the roles."""
    return ScopeCheck(_known(scopes), tuple(roles))


def optional_scope(*scopes: str, roles: Iterable[str] = ()) -> OptionalScopeCheck:
    return OptionalScopeCheck(_known(scopes), tuple(roles))


def dependency_calls(dependant: Dependant) -> Iterator[Any]:
    """Every callable a route depends on, however deep."""
    for sub in dependant.dependencies:
        yield sub.call
        yield from dependency_calls(sub)


def route_scopes(route: APIRoute) -> tuple[list[str], bool] | None:
    """The scopes a route's dependencies require, and whether a token is optional there;
    None for a route whose dependencies check no scope."""
    scopes: list[str] = []
    optional = True
    found = False
    for call in dependency_calls(route.dependant):
        if isinstance(call, ScopeCheck | OptionalScopeCheck):
            found = True
            scopes.extend(s for s in call.scopes if s not in scopes)
            optional = optional and isinstance(call, OptionalScopeCheck)
    return (scopes, optional) if found else None


def declare_route_scopes(router: APIRouter) -> None:
    """Write each route's scopes into its `openapi_extra`, where the OpenAPI hook reads
    them (create_service_app calls this for each router before including it: FastAPI
    documents an included router's routes from the router's own route objects)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        found = route_scopes(route)
        if found is None:
            continue
        scopes, optional = found
        extra = dict(route.openapi_extra or {})
        extra[SCOPES_KEY] = scopes
        if optional:
            extra[OPTIONAL_KEY] = True
        route.openapi_extra = extra
