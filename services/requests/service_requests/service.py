"""Use cases of the requests service: reading, the workflow, the overdue check (submission
is in submission.py, on asyncpg directly for speed; who may do what is in access.py, what
a caller reads back in reads.py).

They run inside the caller's transaction (the request-scoped session, or the
worker's own), flush at most, write events to the outbox only through
`events.publish`, and raise typed errors that are rendered as problem+json.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from portal_shared.auth import Principal
from portal_shared.i18n import Message
from portal_shared.paging import CursorCodec
from portal_shared.preconditions import check_if_match
from service_requests import access, attachments, events, reads, workflow
from service_requests.errors import (
    RequestNotFound,
    ServiceNotAvailable,
    UnknownRefusalGround,
)
from service_requests.forms import Validators, check_form
from service_requests.models import HistoryEntry, OfferingVersion, ServiceRequest
from service_requests.schemas import (
    Action,
    CompleteAction,
    HistoryPage,
    RejectAction,
    RequestPage,
    RequestRead,
    ResubmitAction,
)
from service_requests.workflow import OPEN_STATUSES, TRANSITIONS, Status


async def _visible_request(
    session: AsyncSession, principal: Principal, request_id: UUID, *, lock: bool = False
) -> ServiceRequest:
    query = sa.select(ServiceRequest).where(
        col(ServiceRequest.id) == request_id, access.visible(principal)
    )
    if lock:
        query = query.with_for_update()
    request = (await session.execute(query)).scalar_one_or_none()
    if request is None:
        # The same answer whether it does not exist or is someone else's.
        raise RequestNotFound(message_key="error.request-not-found", params={"id": request_id})
    return request


# Reading ----------------------------------------------------------------------------------


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    filters: reads.RequestFilters,
    *,
    order: reads.Order,
    limit: int,
    cursor: str | None,
    cursors: CursorCodec,
) -> RequestPage:
    query = sa.select(ServiceRequest).where(access.visible(principal), *filters.conditions())
    query = reads.keyset(query, order, cursor, cursors)
    rows = list((await session.execute(query.limit(limit + 1))).scalars())
    return reads.request_page(rows, principal, limit=limit, order=order, cursors=cursors)


async def get_request(session: AsyncSession, principal: Principal, request_id: UUID) -> RequestRead:
    return reads.to_read(await _visible_request(session, principal, request_id), principal)


async def history(
    session: AsyncSession,
    principal: Principal,
    request_id: UUID,
    *,
    limit: int,
    cursor: str | None,
    cursors: CursorCodec,
) -> HistoryPage:
    await _visible_request(session, principal, request_id)
    query = sa.select(HistoryEntry).where(col(HistoryEntry.request_id) == request_id)
    if cursor is not None:
        (after,) = cursors.decode(reads.HISTORY_CURSOR, cursor, (int,))
        query = query.where(col(HistoryEntry.id) > after)
    query = query.order_by(col(HistoryEntry.id)).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    return reads.history_page(rows, limit=limit, cursors=cursors)


# The workflow -----------------------------------------------------------------------------


async def act(
    session: AsyncSession,
    principal: Principal,
    request_id: UUID,
    action: Action,
    *,
    if_match: str | None,
    validators: Validators,
) -> RequestRead:
    """Take a workflow action. Checks in order: visibility (404), role (403), the
    precondition (400 malformed, 412 stale), the status (409), the action's fields (422)."""
    # Locked, so two officers acting at once are serialised and the second sees the first.
    request = await _visible_request(session, principal, request_id, lock=True)
    transition = TRANSITIONS[action.action]
    access.check_may_take(principal, transition, request)
    check_if_match(if_match, request.version, required=False, body_version=action.version)
    current = Status(request.status)
    workflow.take(action.action, current)
    reason_text = await _apply_fields(session, principal, request, action, validators)

    now = datetime.now(UTC)
    request.status = transition.target
    request.version += 1
    request.updated_at = now
    actor_id, role = access.actor_of(principal)
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
            reason_code=request.reason_code if isinstance(action, RejectAction) else None,
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
        reason_text=reason_text,
    )
    return reads.to_read(request, principal)


async def _apply_fields(
    session: AsyncSession,
    principal: Principal,
    request: ServiceRequest,
    action: Action,
    validators: Validators,
) -> dict[str, str] | None:
    """Check the action's own fields and set what they change on the request: a refusal
    ground and a resubmitted form are checked against the version the request pinned."""
    if isinstance(action, CompleteAction):
        request.result = action.result
        if action.result_document_id is not None:
            await attachments.attach_result(
                session, request.id, principal.account_id, action.result_document_id
            )
    if not isinstance(action, RejectAction | ResubmitAction):
        return None
    pinned = await session.get(OfferingVersion, (request.service_id, request.service_version))
    if pinned is None:
        raise ServiceNotAvailable(
            message_key="error.service-version-unknown", params={"version": request.service_version}
        )
    if isinstance(action, RejectAction):
        codes = [str(g.get("code")) for g in pinned.refusal_grounds]
        if action.reason_code not in codes:
            raise UnknownRefusalGround(
                message_key="error.refusal-ground-unknown"
                if codes
                else "error.refusal-ground-none-defined",
                params={"code": repr(action.reason_code), "codes": ", ".join(codes)},
                errors=[
                    {"location": "reason_code", "message": Message("validation.refusal-ground")}
                ],
            )
        request.reason_code = action.reason_code
        # The ground's wording travels with the event (see events.RequestEventPayload).
        ground = next(g for g in pinned.refusal_grounds if str(g.get("code")) == action.reason_code)
        text = ground.get("text")
        return {str(k): str(v) for k, v in text.items()} if isinstance(text, dict) else None
    else:
        key = (pinned.service_id, pinned.version)
        validator = validators.get(key) or validators.add(key, pinned.form_schema)
        check_form(validator, action.form_data)
        request.form_data = action.form_data
        if action.documents:
            await attachments.resubmit(
                session,
                request.id,
                request.applicant_id,
                pinned.required_documents,
                action.documents,
            )
    return None


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
