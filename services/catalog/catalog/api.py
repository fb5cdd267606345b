"""The catalog's HTTP API under /api/v1/services: thin handlers over `catalog.service`.

Reads are public for published services (drafts exist only for admins) and are
cacheable: each answers with an ETag and Cache-Control, and 304 to a matching
If-None-Match. Writes need the admin role.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from starlette.responses import Response

from catalog import service
from catalog.errors import (
    AgencyUnavailable,
    CodeTaken,
    InvalidChange,
    InvalidFormSchema,
    NothingToPublish,
    NotPublished,
    StateServiceNotFound,
    VersionNotFound,
)
from catalog.negotiation import choose_language, conditional_json, flatten
from catalog.schemas import (
    AuditPage,
    Channel,
    DraftRead,
    Lang,
    StateServiceCreate,
    StateServicePage,
    StateServiceRead,
    StateServiceUpdate,
    Status,
    WithdrawBody,
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
from portal_shared.scopes import SERVICES_WRITE, optional_scope, require_scope
from portal_shared.text import SINGLE_LINE, UtcDatetime

router = APIRouter(prefix="/api/v1/services", tags=["services"])

# Changes need an administrator's token with services:write. Reads are public; such a
# token also sees drafts and audit trails there, any other caller the public view.
AdminDep = Annotated[Principal, Depends(require_scope(SERVICES_WRITE, roles=("admin",)))]
OptionalPrincipalDep = Annotated[
    Principal | None, Depends(optional_scope(SERVICES_WRITE, roles=("admin",)))
]

LANG_DOC = (
    "Return each `{kk, ru, en}` text as a plain string in this language (form schema "
    "properties get their `title` from `x-title`). Takes precedence over Accept-Language; "
    "without either, the full three-language objects are returned."
)
ACCEPT_LANGUAGE_DOC = (
    "If it names kk, ru or en (the highest q wins), texts are flattened to that "
    "language as with `?lang=`; the response then has Content-Language."
)

LangQuery = Annotated[Lang | None, Query(description=LANG_DOC)]
AcceptLanguage = Annotated[str | None, Header(description=ACCEPT_LANGUAGE_DOC)]
Limit = Annotated[int, Query(ge=1, le=service.MAX_LIMIT, description="Page size")]
ServiceId = Annotated[UUID, Path(description="The state service's id")]
IfMatch = Annotated[
    str | None,
    Header(
        description='The draft\'s ETag (`"3"`), from GET .../draft or the last edit; '
        "`*` for any revision"
    ),
]

WRITE_ERRORS = (Unauthorized, Forbidden)


def _is_admin(principal: Principal | None) -> bool:
    return principal is not None and principal.has_role("admin")


def _represent(
    request: Request,
    payload: Any,
    *,
    principal: Principal | None,
    lang: Lang | None,
    accept_language: str | None,
) -> Response:
    chosen = choose_language(lang, accept_language)
    if chosen is not None:
        if isinstance(payload, dict) and "items" in payload:
            payload = {**payload, "items": [flatten(i, chosen) for i in payload["items"]]}
        else:
            payload = flatten(payload, chosen)
    return conditional_json(request, payload, public=not _is_admin(principal), lang=chosen)


def _draft_response(draft: DraftRead, status_code: int = 200, **headers: str) -> Response:
    return Response(
        draft.model_dump_json(),
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": etag(draft.revision), "Cache-Control": "private, no-cache", **headers},
    )


@router.get(
    "",
    response_model=StateServicePage,
    summary="List state services",
    description="Published services for everyone (filter `status=withdrawn` for withdrawn "
    "ones); admins also see drafts. Ordered by code.",
    responses=problem_responses(InvalidCursor, Unauthorized),
)
async def list_services(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipalDep,
    cursors: CursorsDep,
    lang: LangQuery = None,
    accept_language: AcceptLanguage = None,
    agency_id: Annotated[UUID | None, Query()] = None,
    channel: Annotated[Channel | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Text in the name, description or code, in any of the three languages",
        ),
        SINGLE_LINE,
    ] = None,
    updated_since: Annotated[UtcDatetime | None, Query()] = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Response:
    page = await service.list_services(
        session,
        admin=_is_admin(principal),
        limit=limit,
        cursors=cursors,
        cursor=cursor,
        agency_id=agency_id,
        channel=channel,
        status=status,
        q=q,
        updated_since=updated_since,
    )
    return _represent(
        request,
        page.model_dump(mode="json"),
        principal=principal,
        lang=lang,
        accept_language=accept_language,
    )


@router.post(
    "",
    status_code=201,
    response_model=DraftRead,
    summary="Create a state service (as a draft)",
    responses=problem_responses(CodeTaken, AgencyUnavailable, InvalidFormSchema, *WRITE_ERRORS),
)
async def create_service(
    body: StateServiceCreate, session: SessionDep, admin: AdminDep
) -> Response:
    draft = await service.create_service(session, body, by=admin.subject)
    return _draft_response(draft, 201, Location=f"/api/v1/services/{draft.id}")


@router.get(
    "/{service_id}",
    response_model=StateServiceRead,
    summary="Read a state service's latest published version",
    description="Admins also read a service never published (its draft).",
    responses=problem_responses(StateServiceNotFound, Unauthorized),
)
async def get_service(
    request: Request,
    service_id: ServiceId,
    session: SessionDep,
    principal: OptionalPrincipalDep,
    lang: LangQuery = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    read = await service.get_service(session, service_id, admin=_is_admin(principal))
    return _represent(
        request,
        read.model_dump(mode="json"),
        principal=principal,
        lang=lang,
        accept_language=accept_language,
    )


@router.patch(
    "/{service_id}",
    response_model=DraftRead,
    summary="Edit the draft",
    description="Needs If-Match with the draft's ETag; published versions never change.",
    responses=problem_responses(
        StateServiceNotFound,
        InvalidPrecondition,
        PreconditionFailed,
        PreconditionRequired,
        InvalidChange,
        AgencyUnavailable,
        *WRITE_ERRORS,
    ),
)
async def update_service_draft(
    service_id: ServiceId,
    body: StateServiceUpdate,
    session: SessionDep,
    admin: AdminDep,
    if_match: IfMatch = None,
) -> Response:
    draft = await service.update_draft(
        session, service_id, body, if_match=if_match, by=admin.subject
    )
    return _draft_response(draft)


@router.get(
    "/{service_id}/draft",
    response_model=DraftRead,
    summary="Read the draft (admins)",
    responses=problem_responses(StateServiceNotFound, Unauthorized),
)
async def get_service_draft(
    request: Request, service_id: ServiceId, session: SessionDep, principal: OptionalPrincipalDep
) -> Response:
    draft = await service.get_draft(session, service_id, admin=_is_admin(principal))
    return conditional_json(
        request, draft.model_dump(mode="json"), public=False, version=draft.revision
    )


@router.post(
    "/{service_id}/publish",
    response_model=StateServiceRead,
    summary="Publish the draft as a new immutable version",
    responses=problem_responses(
        StateServiceNotFound,
        NothingToPublish,
        AgencyUnavailable,
        InvalidPrecondition,
        PreconditionFailed,
        *WRITE_ERRORS,
    ),
)
async def publish_service(
    service_id: ServiceId, session: SessionDep, admin: AdminDep, if_match: IfMatch = None
) -> StateServiceRead:
    return await service.publish(session, service_id, by=admin.subject, if_match=if_match)


@router.post(
    "/{service_id}/withdraw",
    response_model=StateServiceRead,
    summary="Withdraw: no new applications; existing ones keep their version",
    responses=problem_responses(StateServiceNotFound, NotPublished, *WRITE_ERRORS),
)
async def withdraw_service(
    service_id: ServiceId,
    session: SessionDep,
    admin: AdminDep,
    body: Annotated[WithdrawBody | None, Body()] = None,
) -> StateServiceRead:
    reason = body.reason if body is not None else None
    return await service.withdraw(session, service_id, by=admin.subject, reason=reason)


@router.get(
    "/{service_id}/versions",
    response_model=StateServicePage,
    summary="Every published version, oldest first",
    responses=problem_responses(StateServiceNotFound, InvalidCursor, Unauthorized),
)
async def list_service_versions(
    request: Request,
    service_id: ServiceId,
    session: SessionDep,
    principal: OptionalPrincipalDep,
    cursors: CursorsDep,
    lang: LangQuery = None,
    accept_language: AcceptLanguage = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Response:
    page = await service.list_versions(
        session,
        service_id,
        admin=_is_admin(principal),
        limit=limit,
        cursors=cursors,
        cursor=cursor,
    )
    return _represent(
        request,
        page.model_dump(mode="json"),
        principal=principal,
        lang=lang,
        accept_language=accept_language,
    )


@router.get(
    "/{service_id}/versions/{number}",
    response_model=StateServiceRead,
    summary="One published version (the one a request was made under)",
    responses=problem_responses(StateServiceNotFound, VersionNotFound, Unauthorized),
)
async def get_service_version(
    request: Request,
    service_id: ServiceId,
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    principal: OptionalPrincipalDep,
    lang: LangQuery = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    read = await service.get_version(session, service_id, number, admin=_is_admin(principal))
    return _represent(
        request,
        read.model_dump(mode="json"),
        principal=principal,
        lang=lang,
        accept_language=accept_language,
    )


@router.get(
    "/{service_id}/audit",
    response_model=AuditPage,
    summary="The audit trail (admins)",
    responses=problem_responses(StateServiceNotFound, InvalidCursor, Unauthorized),
)
async def list_service_audit(
    service_id: ServiceId,
    session: SessionDep,
    principal: OptionalPrincipalDep,
    cursors: CursorsDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> AuditPage:
    return await service.list_audit(
        session,
        service_id,
        admin=_is_admin(principal),
        limit=limit,
        cursors=cursors,
        cursor=cursor,
    )
