"""Use cases of the identity service: accounts, OAuth clients, the local agency copy.

They take the request's session (which owns the transaction), flush at most,
queue events in the same transaction and raise typed errors.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from identity import events, throttle
from identity.errors import (
    AccountExists,
    AccountNotFound,
    ClientExists,
    ClientNotFound,
    InvalidClient,
    InvalidIin,
    InvalidRoles,
    RegistrationThrottled,
    UnknownAgency,
    WeakPassword,
)
from identity.iin import birth_date, iin_problem
from identity.models import Account, Agency, OAuthClient
from identity.oauth import revocation
from identity.passwords import Passwords, password_problem
from identity.schemas import (
    AccountPage,
    AccountRead,
    ClientCreate,
    ClientPage,
    ClientRead,
    ClientWithSecret,
    ResidentCreate,
    UserCreate,
    UserUpdate,
)
from identity.settings import IdentitySettings
from portal_shared.auth import Principal
from portal_shared.events import CloudEvent
from portal_shared.i18n import Message
from portal_shared.paging import CursorCodec
from portal_shared.preconditions import check_if_match

OIDC_SCOPES = ("openid", "profile", "email", "phone")
# Each list's cursors are bound to it (portal_shared.paging): its kind, and its sort key's types.
ACCOUNTS_BY_CREATION = "identity.accounts:created_at,id"
CLIENTS_BY_ID = "identity.clients:client_id"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- accounts -------------------------------------------------------------------------------


async def _check_password(
    settings: IdentitySettings, password: str, personal: list[str | None]
) -> None:
    problem = password_problem(
        password, min_length=settings.password_min_length, personal=[p for p in personal if p]
    )
    if problem:
        raise WeakPassword(message_key="error.weak-password", params={"problem": problem})


async def _ensure_unique(
    session: AsyncSession,
    *,
    iin: str | None,
    email: str | None,
    username: str | None,
    skip: uuid.UUID | None = None,
) -> None:
    checks: list[tuple[str, Any, str | None]] = [
        ("iin", Account.iin, iin),
        ("email", Account.email, email),
        ("username", Account.username, username),
    ]
    for field, column, value in checks:
        if value is None:
            continue
        stmt = select(Account.id).where(column == value)
        if skip is not None:
            stmt = stmt.where(col(Account.id) != skip)
        if await session.scalar(stmt) is not None:
            raise AccountExists(message_key=_EXISTS[field], field=field)


_EXISTS = {
    "iin": "error.account-exists-iin",
    "email": "error.account-exists-email",
    "username": "error.account-exists-username",
}


def _registration_key(address: str) -> str:
    return f"registration:{address}"


async def check_registration_throttle(
    session: AsyncSession, *, settings: IdentitySettings, address: str
) -> None:
    """Refuse every registration from an address that found existing accounts too often."""
    if await throttle.is_locked(session, _registration_key(address)):
        raise RegistrationThrottled(
            message_key="error.registration-throttled",
            headers={"Retry-After": str(settings.login_lockout)},
        )


async def record_registration_conflict(
    maker: async_sessionmaker[AsyncSession], *, settings: IdentitySettings, address: str
) -> None:
    """Count a registration refused with AccountExists. In a transaction of its own: the
    request's is rolled back with the 409."""
    async with maker() as session, session.begin():
        await throttle.record_failure(
            session,
            _registration_key(address),
            max_failures=settings.registration_max_conflicts_per_address,
            window=settings.login_failure_window,
            lockout=settings.login_lockout,
        )


async def register_resident(
    session: AsyncSession, body: ResidentCreate, *, settings: IdentitySettings, passwords: Passwords
) -> AccountRead:
    problem = iin_problem(body.iin)
    if problem:
        raise InvalidIin(message_key="error.invalid-iin", params={"problem": problem})
    if birth_date(body.iin) > now().date():
        raise InvalidIin(
            message_key="error.invalid-iin", params={"problem": Message("validation.iin-future")}
        )
    email = body.email.lower()
    await _check_password(settings, body.password, [body.iin, body.phone])
    await _ensure_unique(session, iin=body.iin, email=email, username=None)
    password_hash = await run_in_threadpool(passwords.hash, body.password)
    account = Account(
        iin=body.iin,
        email=email,
        phone=body.phone,
        given_name=body.given_name,
        family_name=body.family_name,
        password_hash=password_hash,
        roles=["resident"],
    )
    session.add(account)
    await session.flush()
    await events.user_event(session, events.REGISTERED, account)
    return AccountRead.model_validate(account)


async def _check_binding(
    session: AsyncSession, roles: list[str], agency_id: uuid.UUID | None
) -> None:
    if len(set(roles)) != len(roles):
        raise InvalidRoles(message_key="error.role-twice")
    if "officer" in roles:
        if agency_id is None:
            raise UnknownAgency(message_key="error.officer-needs-agency")
        agency = await session.get(Agency, agency_id)
        if agency is None:
            raise UnknownAgency(message_key="error.agency-unknown", params={"id": agency_id})
        if agency.status != "active":
            raise UnknownAgency(message_key="error.agency-inactive", params={"code": agency.code})
    elif agency_id is not None:
        raise UnknownAgency(message_key="error.agency-officers-only")


async def create_user(
    session: AsyncSession, body: UserCreate, *, settings: IdentitySettings, passwords: Passwords
) -> AccountRead:
    roles: list[str] = list(body.roles)
    await _check_binding(session, roles, body.agency_id)
    email = body.email.lower()
    await _check_password(settings, body.password, [body.phone])
    await _ensure_unique(session, iin=None, email=email, username=body.username)
    password_hash = await run_in_threadpool(passwords.hash, body.password)
    account = Account(
        username=body.username,
        email=email,
        phone=body.phone,
        given_name=body.given_name,
        family_name=body.family_name,
        password_hash=password_hash,
        roles=roles,
        agency_id=body.agency_id,
    )
    session.add(account)
    await session.flush()
    await events.user_event(session, events.REGISTERED, account)
    return AccountRead.model_validate(account)


async def _account(session: AsyncSession, account_id: uuid.UUID) -> Account:
    account = await session.get(Account, account_id, with_for_update=True)
    if account is None:
        raise AccountNotFound(message_key="error.no-account", params={"id": account_id})
    return account


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> AccountRead:
    account = await session.get(Account, account_id)
    if account is None:
        raise AccountNotFound(message_key="error.no-account", params={"id": account_id})
    return AccountRead.model_validate(account)


async def me(session: AsyncSession, principal: Principal) -> AccountRead:
    if principal.account_id is None:
        raise AccountNotFound(message_key="error.client-token-no-account")
    return await get_account(session, principal.account_id)


async def list_accounts(
    session: AsyncSession,
    *,
    limit: int,
    cursors: CursorCodec,
    cursor: str | None,
    role: str | None,
) -> AccountPage:
    stmt = select(Account).order_by(col(Account.created_at), col(Account.id)).limit(limit + 1)
    if role:
        stmt = stmt.where(col(Account.roles).contains([role]))
    if cursor is not None:
        key = cursors.decode(ACCOUNTS_BY_CREATION, cursor, [dt.datetime, uuid.UUID])
        stmt = stmt.where(sa.tuple_(col(Account.created_at), col(Account.id)) > tuple(key))
    rows = list((await session.execute(stmt)).scalars())
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = cursors.encode(ACCOUNTS_BY_CREATION, [rows[-1].created_at, rows[-1].id])
    return AccountPage(items=[AccountRead.model_validate(r) for r in rows], next_cursor=nxt)


async def update_user(
    session: AsyncSession,
    account_id: uuid.UUID,
    body: UserUpdate,
    *,
    settings: IdentitySettings,
    passwords: Passwords,
    if_match: str | None = None,
) -> AccountRead:
    """Change an account; with If-Match, only the version the administrator read."""
    account = await _account(session, account_id)
    check_if_match(if_match, account.version, required=False)
    changes = body.model_dump(exclude_unset=True)
    if "resident" in account.roles and ({"roles", "agency_id"} & changes.keys()):
        raise InvalidRoles(message_key="error.resident-roles-fixed")
    if changes.get("roles") is None and "roles" in changes:
        raise InvalidRoles(message_key="error.roles-null")
    roles: list[str] = list(body.roles) if body.roles is not None else list(account.roles)
    agency_id = changes.get("agency_id", account.agency_id)
    if "roles" in changes or "agency_id" in changes:
        if "officer" not in roles and "agency_id" not in changes:
            agency_id = None  # no longer an officer: the binding goes with the role
        await _check_binding(session, roles, agency_id)
    email = body.email.lower() if body.email else None
    if email:
        await _ensure_unique(session, iin=None, email=email, username=None, skip=account.id)
    if body.password is not None:
        await _check_password(settings, body.password, [account.iin, account.phone])
        account.password_hash = await run_in_threadpool(passwords.hash, body.password)
    for name in ("given_name", "family_name", "phone"):
        if changes.get(name) is not None:
            setattr(account, name, changes[name])
    if email:
        account.email = email
    account.roles = roles
    account.agency_id = agency_id
    disabling = body.status == "disabled" and account.status != "disabled"
    if body.status is not None:
        account.status = body.status
    account.version += 1
    account.updated_at = now()
    await session.flush()
    if disabling:
        await revocation.revoke_account(session, account.id)
    await events.user_event(session, events.DISABLED if disabling else events.UPDATED, account)
    return AccountRead.model_validate(account)


# --- OAuth clients --------------------------------------------------------------------------


def _check_uri(uri: str) -> None:
    parts = urlsplit(uri)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidClient(message_key="error.uri-not-absolute", params={"uri": repr(uri)})
    if parts.scheme == "http" and not loopback:
        raise InvalidClient(message_key="error.uri-not-https", params={"uri": repr(uri)})
    if parts.fragment or "#" in uri:
        raise InvalidClient(message_key="error.uri-fragment", params={"uri": repr(uri)})


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


async def create_client(
    session: AsyncSession, body: ClientCreate, *, passwords: Passwords, secret: str | None = None
) -> ClientWithSecret:
    grants = set(body.grant_types)
    if body.client_type == "public" and "client_credentials" in grants:
        raise InvalidClient(message_key="error.public-client-credentials")
    if "authorization_code" in grants and not body.redirect_uris:
        raise InvalidClient(message_key="error.code-needs-redirect")
    if body.introspection and body.client_type != "confidential":
        raise InvalidClient(message_key="error.introspection-confidential")
    if "refresh_token" in grants and "authorization_code" not in grants:
        raise InvalidClient(message_key="error.refresh-needs-code")
    for uri in [*body.redirect_uris, *body.post_logout_redirect_uris]:
        _check_uri(uri)
    if body.agency_id is not None:
        agency = await session.get(Agency, body.agency_id)
        if agency is None or agency.status != "active":
            raise UnknownAgency(
                message_key="error.agency-not-active", params={"id": body.agency_id}
            )
    if await session.get(OAuthClient, body.client_id) is not None:
        raise ClientExists(message_key="error.client-exists", params={"id": repr(body.client_id)})
    plain = None
    secret_hash = None
    if body.client_type == "confidential":
        plain = secret or _new_secret()
        secret_hash = await run_in_threadpool(passwords.hash, plain)
    client = OAuthClient(
        client_id=body.client_id,
        name=body.name,
        client_type=body.client_type,
        secret_hash=secret_hash,
        redirect_uris=list(dict.fromkeys(body.redirect_uris)),
        post_logout_redirect_uris=list(dict.fromkeys(body.post_logout_redirect_uris)),
        grant_types=sorted(grants),
        scopes=list(dict.fromkeys(body.scopes)),
        agency_id=body.agency_id,
        introspection=body.introspection,
    )
    session.add(client)
    await session.flush()
    return ClientWithSecret(**ClientRead.model_validate(client).model_dump(), client_secret=plain)


async def get_client(session: AsyncSession, client_id: str) -> ClientRead:
    client = await session.get(OAuthClient, client_id)
    if client is None:
        raise ClientNotFound(message_key="error.no-client", params={"id": repr(client_id)})
    return ClientRead.model_validate(client)


async def list_clients(
    session: AsyncSession, *, limit: int, cursors: CursorCodec, cursor: str | None
) -> ClientPage:
    stmt = select(OAuthClient).order_by(col(OAuthClient.client_id)).limit(limit + 1)
    if cursor is not None:
        (after,) = cursors.decode(CLIENTS_BY_ID, cursor, [str])
        stmt = stmt.where(col(OAuthClient.client_id) > after)
    rows = list((await session.execute(stmt)).scalars())
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = cursors.encode(CLIENTS_BY_ID, [rows[-1].client_id])
    return ClientPage(items=[ClientRead.model_validate(r) for r in rows], next_cursor=nxt)


async def rotate_client_secret(
    session: AsyncSession, client_id: str, *, passwords: Passwords
) -> ClientWithSecret:
    client = await session.get(OAuthClient, client_id, with_for_update=True)
    if client is None:
        raise ClientNotFound(message_key="error.no-client", params={"id": repr(client_id)})
    if client.client_type != "confidential":
        raise InvalidClient(message_key="error.public-client-secret")
    plain = _new_secret()
    client.secret_hash = await run_in_threadpool(passwords.hash, plain)
    client.secret_rotated_at = now()
    await session.flush()
    return ClientWithSecret(**ClientRead.model_validate(client).model_dump(), client_secret=plain)


# --- the local copy of agencies -------------------------------------------------------------


async def apply_agency_event(session: AsyncSession, event: CloudEvent) -> None:
    """Keep (id, code, status) of each agency; an older version than the copy's changes nothing."""
    data = event.data
    try:
        agency_id = uuid.UUID(str(data["id"]))
        code = str(data["code"])
        version = int(data.get("version", 0))
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"agency event without a usable id/code/version: {exc}") from exc
    status = (
        "inactive" if event.type.endswith(".deactivated.v1") else str(data.get("status", "active"))
    )
    values = {
        "id": agency_id,
        "code": code,
        "status": status,
        "version": version,
        "updated_at": now(),
    }
    from sqlalchemy.dialects.postgresql import insert

    stmt = insert(Agency).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={k: stmt.excluded[k] for k in ("code", "status", "version", "updated_at")},
        where=col(Agency.version) <= stmt.excluded.version,
    )
    await session.execute(stmt)
