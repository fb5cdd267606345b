"""HTTP endpoints of the requests service: thin handlers over the use cases in service.py
(and submission.py); who may call what is in access.py, what they hold in deps.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Header, Query, Response

from portal_shared.errors import Forbidden, PreconditionFailed, Unauthorized, problem_responses
from portal_shared.paging import CursorParam, InvalidCursor
from portal_shared.preconditions import InvalidPrecondition, etag
from portal_shared.text import UtcDatetime
from service_requests import service, submission
from service_requests.access import ApplicantDep, ReaderDep, WriterDep
from service_requests.attachments import DocumentsInvalid
from service_requests.deps import (
    CalendarsDep,
    ConnectionsDep,
    CursorsDep,
    SessionDep,
    ValidatorsDep,
)
from service_requests.errors import (
    ActionNotAllowed,
    FormInvalid,
    IdempotencyKeyReused,
    RequestNotFound,
    ServiceNotAvailable,
    UnknownRefusalGround,
)
from service_requests.reads import Order, RequestFilters
from service_requests.schemas import (
    Action,
    HistoryPage,
    RequestCreate,
    RequestPage,
    RequestRead,
)
from service_requests.workflow import Status

router = APIRouter(prefix="/api/v1/requests", tags=["requests"])

Limit = Annotated[int, Query(ge=1, le=200, description="page size")]


def _tagged(response: Response, read: RequestRead) -> RequestRead:
    response.headers["ETag"] = etag(read.version)
    return read


@router.post(
    "",
    status_code=201,
    summary="Apply for a published state service",
    description=(
        "A repeat with the same Idempotency-Key and the same body returns the request the "
        "first call made, with 200 instead of 201 and `Idempotent-Replayed: true`; the same "
        "key with another body is 409. `documents` attaches uploads (`POST "
        "/api/v1/documents`) as the service version's `required_documents` codes; a "
        "missing required one is 422 naming the missing codes."
    ),
    responses=problem_responses(
        Unauthorized,
        Forbidden,
        IdempotencyKeyReused,
        ServiceNotAvailable,
        FormInvalid,
        DocumentsInvalid,
    ),
)
async def submit_request(
    body: RequestCreate,
    resident: ApplicantDep,
    response: Response,
    connections: ConnectionsDep,
    calendars: CalendarsDep,
    validators: ValidatorsDep,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
    ] = None,
) -> RequestRead:
    read, created = await submission.submit(
        connections,
        resident,
        body,
        idempotency_key=idempotency_key,
        calendars=calendars,
        validators=validators,
    )
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"{router.prefix}/{read.id}"
    return _tagged(response, read)


@router.get(
    "",
    summary="List the requests the caller may see",
    description=(
        "A resident sees their own requests, an officer their agency's, an administrator "
        "all, an agency system (client credentials, scope requests:read) its agency's. "
        "A cursor belongs to the order it was issued for."
    ),
    responses=problem_responses(Unauthorized, Forbidden, InvalidCursor),
)
async def list_requests(
    session: SessionDep,
    principal: ReaderDep,
    cursors: CursorsDep,
    status: Annotated[list[Status] | None, Query()] = None,
    service_id: UUID | None = None,
    agency_id: UUID | None = None,
    overdue: bool | None = None,
    submitted_from: UtcDatetime | None = None,
    submitted_to: UtcDatetime | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
    updated_since: UtcDatetime | None = None,
    order: Order = "-submitted_at",
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> RequestPage:
    filters = RequestFilters(
        status=status,
        service_id=service_id,
        agency_id=agency_id,
        overdue=overdue,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
        due_from=due_from,
        due_to=due_to,
        updated_since=updated_since,
    )
    return await service.list_requests(
        session, principal, filters, order=order, limit=limit, cursor=cursor, cursors=cursors
    )


@router.get(
    "/{request_id}",
    summary="Read one request",
    responses=problem_responses(Unauthorized, Forbidden, RequestNotFound),
)
async def get_request(
    request_id: UUID, session: SessionDep, principal: ReaderDep, response: Response
) -> RequestRead:
    return _tagged(response, await service.get_request(session, principal, request_id))


@router.get(
    "/{request_id}/history",
    summary="Every transition of a request, oldest first",
    responses=problem_responses(Unauthorized, Forbidden, RequestNotFound, InvalidCursor),
)
async def list_request_history(
    request_id: UUID,
    session: SessionDep,
    principal: ReaderDep,
    cursors: CursorsDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> HistoryPage:
    return await service.history(
        session, principal, request_id, limit=limit, cursor=cursor, cursors=cursors
    )


@router.post(
    "/{request_id}/actions",
    summary="Take a workflow action on a request",
    description=(
        "Needs the scope requests:write. Officers of the responsible agency (or its system) "
        "accept, request_info, approve, reject and complete; the applicant resubmits and "
        "cancels. Send `If-Match` with the ETag (or `version` in the body) to be refused "
        "with 412 if someone acted first."
    ),
    responses=problem_responses(
        Unauthorized,
        InvalidPrecondition,
        Forbidden,
        RequestNotFound,
        ActionNotAllowed,
        PreconditionFailed,
        UnknownRefusalGround,
        FormInvalid,
        DocumentsInvalid,
    ),
)
async def act_on_request(
    request_id: UUID,
    action: Annotated[Action, Body()],
    session: SessionDep,
    principal: WriterDep,
    response: Response,
    validators: ValidatorsDep,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=1024)] = None,
) -> RequestRead:
    read = await service.act(
        session, principal, request_id, action, if_match=if_match, validators=validators
    )
    return _tagged(response, read)
