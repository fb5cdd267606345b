"""The directory's HTTP API: anyone reads agencies; administrators write them.

Optimistic concurrency: every agency has a `version`, sent as its ETag. A PATCH
must say which version it edits, in `If-Match` (`"3"`, or `*` to overwrite
whatever is there) or in the body's `version`; without either it is refused with
428, because an administrator's edit silently undoing another's is the failure
this prevents. Deactivate and activate accept `If-Match` but do not need it:
they set one field to one value, so there is nothing to lose.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response

from directory import service
from directory.errors import (
    ActiveChildren,
    AgencyNotFound,
    DuplicateAgencyCode,
    InactiveParent,
    InvalidHierarchy,
)
from directory.models import Agency
from directory.schemas import (
    AgencyCreate,
    AgencyKind,
    AgencyNode,
    AgencyPage,
    AgencyRead,
    AgencyStatus,
    AgencyUpdate,
    AuditPage,
    Deactivation,
)
from portal_shared.auth import Principal
from portal_shared.db import SessionDep
from portal_shared.errors import (
    Forbidden,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
    problem_responses,
)
from portal_shared.paging import CursorParam, CursorsDep, InvalidCursor
from portal_shared.preconditions import InvalidPrecondition, etag
from portal_shared.scopes import AGENCIES_WRITE, require_scope
from portal_shared.text import SINGLE_LINE, UtcDatetime

router = APIRouter(prefix="/api/v1/agencies", tags=["agencies"])

# Every change to the directory, and its audit trail: an administrator's token with the
# scope agencies:write. Reads of the directory are public.
AdminDep = Annotated[Principal, Depends(require_scope(AGENCIES_WRITE, roles=("admin",)))]

AgencyId = Annotated[uuid.UUID, Path(description="The agency's id")]
IfMatch = Annotated[
    str | None,
    Header(description='The version being changed, as its ETag (`"3"`), or `*` for any version'),
]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
_WRITE_ERRORS = (Unauthorized, Forbidden)
# What a write with If-Match may answer: malformed (400), stale (412).
_PRECONDITION_ERRORS = (InvalidPrecondition, PreconditionFailed)


def _etag(response: Response, agency: Agency) -> AgencyRead:
    response.headers["ETag"] = etag(agency.version)
    return service.to_read(agency)


@router.get("", responses=problem_responses(InvalidCursor))
async def list_agencies(
    session: SessionDep,
    cursors: CursorsDep,
    city: Annotated[str | None, Query(max_length=100), SINGLE_LINE] = None,
    kind: AgencyKind | None = None,
    parent_id: uuid.UUID | None = None,
    status: AgencyStatus | None = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Text in the code or the Kazakh, Russian or English name (any case)",
        ),
        SINGLE_LINE,
    ] = None,
    updated_since: Annotated[
        UtcDatetime | None, Query(description="Only agencies changed at or after this time")
    ] = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> AgencyPage:
    """Agencies in code order, filtered, one page at a time."""
    filters = service.AgencyFilter(
        city=city,
        kind=kind,
        parent_id=parent_id,
        status=status,
        q=q,
        updated_since=updated_since,
    )
    return await service.list_agencies(
        session, filters, limit=limit, cursors=cursors, cursor=cursor
    )


@router.get("/by-code/{code}", responses=problem_responses(AgencyNotFound))
async def get_agency_by_code(
    session: SessionDep,
    response: Response,
    code: Annotated[str, Path(max_length=64), SINGLE_LINE],
) -> AgencyRead:
    return _etag(response, await service.get_agency_by_code(session, code))


@router.get("/{agency_id}", responses=problem_responses(AgencyNotFound))
async def get_agency(session: SessionDep, response: Response, agency_id: AgencyId) -> AgencyRead:
    return _etag(response, await service.get_agency(session, agency_id))


@router.get("/{agency_id}/subtree", responses=problem_responses(AgencyNotFound))
async def get_agency_subtree(session: SessionDep, agency_id: AgencyId) -> AgencyNode:
    """The agency with every agency below it, nested, active and inactive alike."""
    return await service.subtree(session, agency_id)


@router.post(
    "",
    status_code=201,
    responses=problem_responses(
        *_WRITE_ERRORS, DuplicateAgencyCode, InvalidHierarchy, InactiveParent
    ),
)
async def register_agency(
    body: AgencyCreate, session: SessionDep, admin: AdminDep, response: Response
) -> AgencyRead:
    agency = await service.register_agency(session, body, by=admin)
    response.headers["Location"] = f"{router.prefix}/{agency.id}"
    return _etag(response, agency)


@router.patch(
    "/{agency_id}",
    responses=problem_responses(
        *_WRITE_ERRORS,
        AgencyNotFound,
        InvalidHierarchy,
        InactiveParent,
        *_PRECONDITION_ERRORS,
        PreconditionRequired,
    ),
)
async def update_agency(
    agency_id: AgencyId,
    body: AgencyUpdate,
    session: SessionDep,
    admin: AdminDep,
    response: Response,
    if_match: IfMatch = None,
) -> AgencyRead:
    """Change the fields sent; needs If-Match or `version` (see the API's description)."""
    agency = await service.update_agency(session, agency_id, body, if_match=if_match, by=admin)
    return _etag(response, agency)


@router.post(
    "/{agency_id}/deactivate",
    responses=problem_responses(
        *_WRITE_ERRORS, AgencyNotFound, ActiveChildren, *_PRECONDITION_ERRORS
    ),
)
async def deactivate_agency(
    agency_id: AgencyId,
    session: SessionDep,
    admin: AdminDep,
    response: Response,
    body: Annotated[Deactivation | None, Body()] = None,
    if_match: IfMatch = None,
) -> AgencyRead:
    """Deactivate; an agency with active agencies below it needs `cascade: true`."""
    body = body or Deactivation()
    agency = await service.deactivate_agency(
        session,
        agency_id,
        cascade=body.cascade,
        if_match=if_match,
        body_version=body.version,
        by=admin,
    )
    return _etag(response, agency)


@router.post(
    "/{agency_id}/activate",
    responses=problem_responses(
        *_WRITE_ERRORS, AgencyNotFound, InactiveParent, *_PRECONDITION_ERRORS
    ),
)
async def activate_agency(
    agency_id: AgencyId,
    session: SessionDep,
    admin: AdminDep,
    response: Response,
    if_match: IfMatch = None,
) -> AgencyRead:
    """Activate this agency alone (not the ones below it); its parent must be active."""
    agency = await service.activate_agency(session, agency_id, if_match=if_match, by=admin)
    return _etag(response, agency)


@router.get(
    "/{agency_id}/audit",
    responses=problem_responses(*_WRITE_ERRORS, AgencyNotFound, InvalidCursor),
)
async def list_agency_audit(
    agency_id: AgencyId,
    session: SessionDep,
    admin: AdminDep,
    cursors: CursorsDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> AuditPage:
    """Every change to the agency, oldest first: who, when, and each field before and after."""
    return await service.audit_trail(
        session, agency_id, limit=limit, cursors=cursors, cursor=cursor
    )
