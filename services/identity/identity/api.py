"""The identity REST API under /api/v1: residents, the caller's account, admin users and clients.

An account's `version` is its ETag: an administrator's change may send it in If-Match, so
that it does not silently undo another administrator's change made in between.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from identity import keys, service
from identity.deps import PasswordsDep, SettingsDep
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
from identity.schemas import (
    AccountPage,
    AccountRead,
    ClientCreate,
    ClientPage,
    ClientRead,
    ClientWithSecret,
    KeyRotated,
    ResidentCreate,
    UserCreate,
    UserUpdate,
)
from portal_shared.auth import Principal
from portal_shared.db import SessionDep
from portal_shared.errors import (
    Forbidden,
    PreconditionFailed,
    Unauthorized,
    problem_responses,
)
from portal_shared.paging import CursorParam, CursorsDep, InvalidCursor
from portal_shared.preconditions import InvalidPrecondition, etag
from portal_shared.scopes import ACCOUNTS_READ, CLIENTS_ADMIN, USERS_ADMIN, require_scope
from portal_shared.text import SINGLE_LINE

router = APIRouter(prefix="/api/v1")

# The signed-in person's own account needs accounts:read; managing accounts users:admin
# and managing clients and signing keys clients:admin, both with the role admin.
AccountReaderDep = Annotated[Principal, Depends(require_scope(ACCOUNTS_READ))]
UsersAdminDep = Annotated[Principal, Depends(require_scope(USERS_ADMIN, roles=("admin",)))]
ClientsAdminDep = Annotated[Principal, Depends(require_scope(CLIENTS_ADMIN, roles=("admin",)))]

Limit = Annotated[int, Query(ge=1, le=200, description="page size (default 50, max 200)")]
IfMatch = Annotated[
    str | None,
    Header(description='The account\'s ETag (`"3"`, its version) as read, or `*`; optional'),
]
ClientIdPath = Annotated[str, Path(max_length=64, description="The client's id"), SINGLE_LINE]
ADMIN_ERRORS = (Unauthorized, Forbidden)
# Personal data: no shared or browser cache may keep it (RFC 9111 5.2.2.5).
NO_STORE = {"Cache-Control": "no-store"}


def _with_etag(response: Response, account: AccountRead) -> AccountRead:
    response.headers["ETag"] = etag(account.version)
    return account


@router.post(
    "/residents",
    status_code=201,
    tags=["accounts"],
    summary="Register as a resident (no token needed)",
    description=(
        "A 409 says that the IIN or the email already has an account. Since that tells"
        " anyone whether a person is registered, these answers are counted per client"
        " address like failed sign-ins: past a limit within the failure window, every"
        " registration from that address is refused with 429 (and `Retry-After`) until"
        " the lockout ends."
    ),
    responses=problem_responses(InvalidIin, WeakPassword, AccountExists, RegistrationThrottled),
)
async def register_resident(
    body: ResidentCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
) -> AccountRead:
    address = request.client.host if request.client else "unknown"
    await service.check_registration_throttle(session, settings=settings, address=address)
    try:
        return await service.register_resident(
            session, body, settings=settings, passwords=passwords
        )
    except AccountExists:
        await service.record_registration_conflict(
            request.app.state.sessionmaker, settings=settings, address=address
        )
        raise


@router.get(
    "/me",
    tags=["accounts"],
    summary="The caller's account",
    responses=problem_responses(Unauthorized, AccountNotFound),
)
async def get_me(
    session: SessionDep, principal: AccountReaderDep, response: Response
) -> AccountRead:
    response.headers.update(NO_STORE)
    return await service.me(session, principal)


@router.post(
    "/users",
    status_code=201,
    tags=["admin"],
    summary="Create an officer or administrator",
    responses=problem_responses(
        *ADMIN_ERRORS, WeakPassword, AccountExists, UnknownAgency, InvalidRoles
    ),
)
async def create_user(
    body: UserCreate,
    session: SessionDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    _: UsersAdminDep,
) -> AccountRead:
    return await service.create_user(session, body, settings=settings, passwords=passwords)


@router.get(
    "/users",
    tags=["admin"],
    summary="List accounts",
    responses=problem_responses(*ADMIN_ERRORS, InvalidCursor),
)
async def list_users(
    session: SessionDep,
    _: UsersAdminDep,
    cursors: CursorsDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
    role: Annotated[str | None, Query(pattern="^(resident|officer|admin)$")] = None,
) -> AccountPage:
    return await service.list_accounts(
        session, limit=limit, cursors=cursors, cursor=cursor, role=role
    )


@router.get(
    "/users/{account_id}",
    tags=["admin"],
    summary="Read an account",
    responses=problem_responses(*ADMIN_ERRORS, AccountNotFound),
)
async def get_user(
    account_id: uuid.UUID, session: SessionDep, _: UsersAdminDep, response: Response
) -> AccountRead:
    return _with_etag(response, await service.get_account(session, account_id))


@router.patch(
    "/users/{account_id}",
    tags=["admin"],
    summary="Change an account: names, contacts, roles, agency, status (disable), password",
    responses=problem_responses(
        *ADMIN_ERRORS,
        AccountNotFound,
        AccountExists,
        UnknownAgency,
        InvalidRoles,
        WeakPassword,
        InvalidPrecondition,
        PreconditionFailed,
    ),
)
async def update_user(
    account_id: uuid.UUID,
    body: UserUpdate,
    session: SessionDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    _: UsersAdminDep,
    response: Response,
    if_match: IfMatch = None,
) -> AccountRead:
    account = await service.update_user(
        session, account_id, body, settings=settings, passwords=passwords, if_match=if_match
    )
    return _with_etag(response, account)


@router.post(
    "/clients",
    status_code=201,
    tags=["admin"],
    summary="Register an OAuth client; a confidential client's secret is shown once",
    responses=problem_responses(*ADMIN_ERRORS, ClientExists, InvalidClient, UnknownAgency),
)
async def create_client(
    body: ClientCreate, session: SessionDep, passwords: PasswordsDep, _: ClientsAdminDep
) -> ClientWithSecret:
    return await service.create_client(session, body, passwords=passwords)


@router.get(
    "/clients",
    tags=["admin"],
    summary="List OAuth clients",
    responses=problem_responses(*ADMIN_ERRORS, InvalidCursor),
)
async def list_clients(
    session: SessionDep,
    _: ClientsAdminDep,
    cursors: CursorsDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> ClientPage:
    return await service.list_clients(session, limit=limit, cursors=cursors, cursor=cursor)


@router.get(
    "/clients/{client_id}",
    tags=["admin"],
    summary="Read an OAuth client",
    responses=problem_responses(*ADMIN_ERRORS, ClientNotFound),
)
async def get_client(
    client_id: ClientIdPath, session: SessionDep, _: ClientsAdminDep
) -> ClientRead:
    return await service.get_client(session, client_id)


@router.post(
    "/clients/{client_id}/secret",
    tags=["admin"],
    summary="Rotate a confidential client's secret; the old one stops working at once",
    responses=problem_responses(*ADMIN_ERRORS, ClientNotFound, InvalidClient),
)
async def rotate_client_secret(
    client_id: ClientIdPath, session: SessionDep, passwords: PasswordsDep, _: ClientsAdminDep
) -> ClientWithSecret:
    return await service.rotate_client_secret(session, client_id, passwords=passwords)


@router.post(
    "/signing-keys/rotate",
    tags=["admin"],
    summary="Rotate the token signing key (the previous key stays published)",
    responses=problem_responses(*ADMIN_ERRORS),
)
async def rotate_signing_key(
    session: SessionDep, settings: SettingsDep, _: ClientsAdminDep
) -> KeyRotated:
    return KeyRotated(kid=await keys.rotate(session, settings.key_encryption_secret))
