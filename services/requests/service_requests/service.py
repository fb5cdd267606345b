"""Use cases of the requests service: reading, the workflow, the overdue check (submission
is in submission.py, on asyncpg directly for speed).

They run inside the caller's transaction (the request-scoped session, or the
worker's own), flush at most, write events to the outbox only through
`events.publish`, and raise typed errors that are rendered as problem+json.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import UUID

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from portal_shared.auth import Principal
from portal_shared.errors import Forbidden
from service_requests import events
from service_requests.errors import (
    ActionNotAllowed,
    InvalidCursor,
    NotYourRole,
    RequestNotFound,
    ServiceNotAvailable,
    StaleVersion,
    UnknownRefusalGround,
)
from service_requests.forms import Validators, check_form
from service_requests.models import (
    HistoryEntry,
    OfferingVersion,
    ServiceRequest,
)
from service_requests.schemas import (
    Action,
    CompleteAction,
    HistoryPage,
    HistoryRead,
    RejectAction,
    RequestPage,
    RequestRead,
    ResubmitAction,
)
from service_requests.workflow import OPEN_STATUSES, TRANSITIONS, Actor, Status, allowed_from

READ_SCOPES = frozenset({"requests:read", "requests:write"})
WRITE_SCOPE = "requests:write"

Order = Literal["-submitted_at", "submitted_at", "updated_at", "overdue_first"]


# Who may see what -----------------------------------------------------------------------


def _agency_system(principal: Principal) -> bool:
    return principal.is_client and principal.agency_id is not None


def _check_client_scope(principal: Principal, scopes: frozenset[str]) -> None:
    if principal.is_client and not principal.scopes & scopes:
        raise Forbidden(
            "An agency system needs the scope " + " or ".join(sorted(scopes)) + " for this"
        )


def _visible(principal: Principal) -> sa.ColumnElement[bool]:
    """The SQL condition for the requests a caller may see."""
    if principal.has_role("admin"):
        return sa.true()
    conditions: list[sa.ColumnElement[bool]] = []
    if principal.agency_id is not None and (
        principal.has_role("officer") or _agency_system(principal)
    ):
        conditions.append(col(ServiceRequest.agency_id) == principal.agency_id)
    if principal.has_role("resident") and principal.account_id is not None:
        conditions.append(col(ServiceRequest.applicant_id) == principal.account_id)
    return sa.or_(*conditions) if conditions else sa.false()


def _acts_for_agency(principal: Principal, request: ServiceRequest) -> bool:
    """An officer of the request's agency, or that agency's system."""
    if principal.agency_id != request.agency_id:
        return False
    return principal.has_role("officer") or _agency_system(principal)


def _is_applicant(principal: Principal, request: ServiceRequest) -> bool:
    return principal.has_role("resident") and principal.account_id == request.applicant_id


def _sees_form(principal: Principal, request: ServiceRequest) -> bool:
    # Administrators oversee the workflow, not the residents' answers: they get no form data.
    return _is_applicant(principal, request) or _acts_for_agency(principal, request)


def to_read(request: ServiceRequest, principal: Principal) -> RequestRead:
    return RequestRead(
        id=request.id,
        number=request.number,
        service_id=request.service_id,
        service_version=request.service_version,
        agency_id=request.agency_id,
        applicant_id=request.applicant_id,
        status=Status(request.status),
        submitted_at=request.submitted_at,
        due_date=request.due_date,
        version=request.version,
        updated_at=request.updated_at,
        overdue=request.overdue_at is not None,
        overdue_at=request.overdue_at,
        reason_code=request.reason_code,
        result=request.result,
        form_data=request.form_data if _sees_form(principal, request) else None,
    )


def actor_of(principal: Principal) -> tuple[str, str]:
    """Who to write into the history: the account, or the agency system's client id."""
    if principal.is_client:
        return principal.client_id, "agency_system"
    for role in ("officer", "resident", "admin"):
        if principal.has_role(role):
            return principal.subject, role
    return principal.subject, "unknown"


async def _visible_request(
    session: AsyncSession, principal: Principal, request_id: UUID, *, lock: bool = False
) -> ServiceRequest:
    query = sa.select(ServiceRequest).where(
        col(ServiceRequest.id) == request_id, _visible(principal)
    )
    if lock:
        query = query.with_for_update()
    request = (await session.execute(query)).scalar_one_or_none()
    if request is None:
        # The same answer whether it does not exist or is someone else's.
        raise RequestNotFound(f"There is no request {request_id} that you may see")
    return request


# Reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFilters:
    status: list[Status] | None = None
    service_id: UUID | None = None
    agency_id: UUID | None = None
    overdue: bool | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    due_from: date | None = None
    due_to: date | None = None
    updated_since: datetime | None = None


def _aware(moment: datetime) -> datetime:
    # A time without an offset is read as UTC rather than refused.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _encode_cursor(order: str, values: list[Any]) -> str:
    raw = orjson.dumps([order, *values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("The cursor is not one this API handed out") from exc
    if not isinstance(decoded, list) or len(decoded) != size + 1 or decoded[0] != order:
        raise InvalidCursor("The cursor belongs to another listing order; start again without it")
    return decoded[1:]


def _sort_keys(order: Order) -> tuple[list[Any], bool]:
    """The columns of an order (all ascending, or all descending) ending with the id."""
    r = ServiceRequest
    if order == "-submitted_at":
        return [col(r.submitted_at), col(r.id)], True
    if order == "submitted_at":
        return [col(r.submitted_at), col(r.id)], False
    if order == "updated_at":
        return [col(r.updated_at), col(r.id)], False
    # Overdue first (false sorts before true), then the most urgent.
    return [col(r.overdue_at).is_(None), col(r.due_date), col(r.id)], False


def _cursor_values(request: ServiceRequest, order: Order) -> list[Any]:
    if order in ("-submitted_at", "submitted_at"):
        return [request.submitted_at.isoformat(), str(request.id)]
    if order == "updated_at":
        return [request.updated_at.isoformat(), str(request.id)]
    return [request.overdue_at is None, request.due_date.isoformat(), str(request.id)]


def _parse_cursor_values(values: list[Any], order: Order) -> list[Any]:
    try:
        if order == "overdue_first":
            if not isinstance(values[0], bool):
                raise TypeError("flag")
            return [values[0], date.fromisoformat(values[1]), UUID(values[2])]
        return [_aware(datetime.fromisoformat(values[0])), UUID(values[1])]
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidCursor("The cursor is not one this API handed out") from exc


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    filters: RequestFilters,
    *,
    order: Order,
    limit: int,
    cursor: str | None,
) -> RequestPage:
    _check_client_scope(principal, READ_SCOPES)
    r = ServiceRequest
    query = sa.select(r).where(_visible(principal))
    if filters.status:
        query = query.where(col(r.status).in_([s.value for s in filters.status]))
    if filters.service_id is not None:
        query = query.where(col(r.service_id) == filters.service_id)
    if filters.agency_id is not None:
        query = query.where(col(r.agency_id) == filters.agency_id)
    if filters.overdue is not None:
        flag = col(r.overdue_at).is_not(None) if filters.overdue else col(r.overdue_at).is_(None)
        query = query.where(flag)
    if filters.submitted_from is not None:
        query = query.where(col(r.submitted_at) >= _aware(filters.submitted_from))
    if filters.submitted_to is not None:
        query = query.where(col(r.submitted_at) < _aware(filters.submitted_to))
    if filters.due_from is not None:
        query = query.where(col(r.due_date) >= filters.due_from)
    if filters.due_to is not None:
        query = query.where(col(r.due_date) <= filters.due_to)
    if filters.updated_since is not None:
        query = query.where(col(r.updated_at) >= _aware(filters.updated_since))
    keys, descending = _sort_keys(order)
    if cursor is not None:
        after = _parse_cursor_values(_decode_cursor(cursor, order, len(keys)), order)
        row, bound = sa.tuple_(*keys), sa.tuple_(*after)
        query = query.where(row < bound if descending else row > bound)
    query = query.order_by(*(k.desc() if descending else k.asc() for k in keys))
    rows = list((await session.execute(query.limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return RequestPage(
        items=[to_read(x, principal) for x in rows],
        next_cursor=_encode_cursor(order, _cursor_values(rows[-1], order)) if more else None,
    )


async def get_request(session: AsyncSession, principal: Principal, request_id: UUID) -> RequestRead:
    _check_client_scope(principal, READ_SCOPES)
    return to_read(await _visible_request(session, principal, request_id), principal)


async def history(
    session: AsyncSession,
    principal: Principal,
    request_id: UUID,
    *,
    limit: int,
    cursor: str | None,
) -> HistoryPage:
    _check_client_scope(principal, READ_SCOPES)
    await _visible_request(session, principal, request_id)
    query = sa.select(HistoryEntry).where(col(HistoryEntry.request_id) == request_id)
    if cursor is not None:
        (after,) = _decode_cursor(cursor, "history", 1)
        if not isinstance(after, int):
            raise InvalidCursor("The cursor is not one this API handed out")
        query = query.where(col(HistoryEntry.id) > after)
    rows = list(
        (await session.execute(query.order_by(col(HistoryEntry.id)).limit(limit + 1))).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return HistoryPage(
        items=[
            HistoryRead(
                action=h.action,
                from_status=Status(h.from_status) if h.from_status else None,
                to_status=Status(h.to_status),
                version=h.version,
                actor_id=h.actor_id,
                actor_role=h.actor_role,
                comment=h.comment,
                reason_code=h.reason_code,
                at=h.at,
            )
            for h in rows
        ],
        next_cursor=_encode_cursor("history", [rows[-1].id]) if more else None,
    )


# The workflow -----------------------------------------------------------------------------


def _expected_version(if_match: str | None, body_version: int | None) -> int | None:
    """The version the caller last read, from If-Match (an ETag "<version>") or the body."""
    if if_match is None:
        return body_version
    tag = if_match.strip()
    if tag == "*":
        return body_version
    tag = tag.removeprefix("W/").strip('"')
    try:
        return int(tag)
    except ValueError:
        # A tag this API never issued cannot match the current version.
        return -1


async def act(
    session: AsyncSession,
    principal: Principal,
    request_id: UUID,
    action: Action,
    *,
    if_match: str | None,
    validators: Validators,
) -> RequestRead:
    _check_client_scope(principal, READ_SCOPES)
    # Locked, so two officers acting at once are serialised and the second sees the first.
    request = await _visible_request(session, principal, request_id, lock=True)
    transition = TRANSITIONS[action.action]
    if transition.actor is Actor.officer:
        if not _acts_for_agency(principal, request):
            raise NotYourRole(
                f"Only an officer of the responsible agency may {action.action} a request"
            )
        _check_client_scope(principal, frozenset({WRITE_SCOPE}))
    elif not _is_applicant(principal, request):
        raise NotYourRole(f"Only the applicant may {action.action} their request")

    expected = _expected_version(if_match, action.version)
    if expected is not None and expected != request.version:
        raise StaleVersion(
            f"The request is at version {request.version}, not {expected}; read it again",
            current_version=request.version,
        )
    current = Status(request.status)
    if current not in transition.sources:
        allowed = allowed_from(current)
        raise ActionNotAllowed(
            f"{action.action} is not allowed for a request in status {current}"
            + (f"; allowed now: {', '.join(allowed)}" if allowed else "; it is finished"),
            status_now=current.value,
        )

    reason_code: str | None = None
    if isinstance(action, RejectAction | ResubmitAction):
        pinned = await session.get(OfferingVersion, (request.service_id, request.service_version))
        if pinned is None:
            raise ServiceNotAvailable(
                f"The state service version {request.service_version} is not known here"
            )
        if isinstance(action, RejectAction):
            codes = [str(g.get("code")) for g in pinned.refusal_grounds]
            if action.reason_code not in codes:
                raise UnknownRefusalGround(
                    f"{action.reason_code!r} is not a refusal ground of this service; "
                    f"use one of: {', '.join(codes) or '(none defined)'}",
                    errors=[{"location": "reason_code", "message": "unknown refusal ground"}],
                )
            reason_code = action.reason_code
            request.reason_code = reason_code
        else:
            key = (pinned.service_id, pinned.version)
            validator = validators.get(key) or validators.add(key, pinned.form_schema)
            check_form(validator, action.form_data)
            request.form_data = action.form_data
    if isinstance(action, CompleteAction):
        request.result = action.result

    now = datetime.now(UTC)
    request.status = transition.target
    request.version += 1
    request.updated_at = now
    actor_id, role = actor_of(principal)
    session.add(
        HistoryEntry(
            request_id=request.id,
            action=action.action,
            from_status=current,
            to_status=transition.target,
            version=request.version,
            actor_id=actor_id,
            actor_role=role,
            comment=action.comment,
            reason_code=reason_code,
            at=now,
        )
    )
    await session.flush()
    await events.publish(
        session,
        request,
        transition.event,
        previous_status=current,
        occurred_at=now,
        comment=action.comment,
    )
    return to_read(request, principal)


# Overdue ----------------------------------------------------------------------------------


async def mark_overdue(session: AsyncSession, *, as_of: datetime, batch: int) -> int:
    """Mark one batch of open requests whose due date has passed in their agency's zone.

    Each is marked once: the UPDATE only takes rows not yet marked, and rows another
    replica holds are skipped rather than waited for. Returns how many were marked."""
    r = ServiceRequest
    moment = sa.cast(sa.literal(as_of), sa.DateTime(timezone=True))
    local_today = sa.cast(sa.func.timezone(col(r.timezone), moment), sa.Date)
    candidates = (
        sa.select(col(r.id))
        .where(
            col(r.overdue_at).is_(None),
            col(r.status).in_([s.value for s in OPEN_STATUSES]),
            col(r.due_date) < local_today,
        )
        .order_by(col(r.due_date), col(r.id))
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    marked = list(
        (
            await session.execute(
                sa.update(r)
                .where(col(r.id).in_(candidates.scalar_subquery()), col(r.overdue_at).is_(None))
                .values(overdue_at=as_of, updated_at=as_of, version=col(r.version) + 1)
                .returning(r),
                execution_options={"synchronize_session": False},
            )
        ).scalars()
    )
    for request in marked:
        session.add(
            HistoryEntry(
                request_id=request.id,
                action="overdue",
                from_status=request.status,
                to_status=request.status,
                version=request.version,
                actor_id="system",
                actor_role="system",
                at=as_of,
            )
        )
        await events.publish(
            session,
            request,
            "overdue",
            previous_status=Status(request.status),
            occurred_at=as_of,
        )
    await session.flush()
    return len(marked)
