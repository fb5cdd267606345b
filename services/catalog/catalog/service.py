"""The catalog's use cases: create and edit drafts, publish versions, withdraw, read, list.

Each runs in the caller's transaction (the request's, or a consumer's) and
flushes at most; every change that others must learn of adds its event to the
outbox in that same transaction, so the event exists if and only if the change does.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from catalog.errors import (
    AgencyUnavailable,
    CodeTaken,
    InvalidChange,
    NothingToPublish,
    NotPublished,
    StateServiceNotFound,
    VersionNotFound,
)
from catalog.events import SOURCE, TOPIC, event_type
from catalog.formschema import check_form_schema
from catalog.models import Agency, AuditEntry, StateService, StateServiceVersion
from catalog.schemas import (
    AgencyCopy,
    AuditPage,
    AuditRead,
    DraftRead,
    StandardFields,
    StateServiceCreate,
    StateServicePage,
    StateServiceRead,
    StateServiceUpdate,
    Status,
)
from portal_shared.events import add_event
from portal_shared.i18n import Message
from portal_shared.paging import CursorCodec
from portal_shared.preconditions import check_if_match
from portal_shared.validation import violation_message

log = structlog.get_logger(__name__)

MAX_LIMIT = 200

# Each list's cursors are bound to it (portal_shared.paging): its kind, and its sort key's types.
SERVICES_BY_CODE = "catalog.services:code"
VERSIONS_BY_NUMBER = "catalog.versions:version"
AUDIT_BY_ID = "catalog.audit:id"


def service_id_for(code: str) -> UUID:
    """A service's id follows from its code (which never changes), as the demo data's do."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:baikonur-portal:service:{code}")


def _now() -> datetime:
    return datetime.now(UTC)


def _search_text(standard: dict[str, Any]) -> str:
    parts = [standard["code"]]
    for key in ("name", "description"):
        parts += [standard[key][lang] for lang in ("kk", "ru", "en")]
    return "\n".join(parts).casefold()


def _read(row: StateService) -> StateServiceRead:
    return StateServiceRead.model_validate(
        {
            **row.current,
            "id": row.id,
            "code": row.code,
            "status": row.status,
            "version": row.version,
            "published_at": row.published_at,
            "updated_at": row.updated_at,
        }
    )


def _draft_read(row: StateService) -> DraftRead:
    return DraftRead.model_validate(
        {
            **row.draft,
            "id": row.id,
            "code": row.code,
            "status": "draft",
            "version": row.version,
            "published_at": None,
            "updated_at": row.draft_updated_at,
            "revision": row.draft_revision,
            "has_unpublished_changes": row.draft_revision != row.published_revision,
        }
    )


async def _require_agency(session: AsyncSession, agency_id: UUID) -> None:
    agency = await session.get(Agency, agency_id)
    if agency is None:
        raise AgencyUnavailable(
            message_key="error.catalog-agency-unknown",
            params={"id": agency_id},
            errors=[
                {"location": "body.agency_id", "message": Message("validation.agency-unknown")}
            ],
        )
    if agency.status != "active":
        raise AgencyUnavailable(
            message_key="error.catalog-agency-inactive",
            params={"code": agency.code, "id": agency_id},
            errors=[
                {"location": "body.agency_id", "message": Message("validation.agency-inactive")}
            ],
        )


async def _audit(
    session: AsyncSession,
    row: StateService,
    action: str,
    actor: str,
    *,
    version: int | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEntry(
            service_id=row.id,
            at=_now(),
            actor=actor,
            action=action,
            version=version,
            revision=row.draft_revision,
            detail=detail,
        )
    )


async def _emit(session: AsyncSession, name: str, read: StateServiceRead) -> None:
    await add_event(
        session,
        topic=TOPIC,
        key=str(read.id),
        type=event_type(name),
        source=SOURCE,
        data=read.model_dump(mode="json"),
    )


async def _locked(session: AsyncSession, service_id: UUID) -> StateService:
    # Edits, publishing and withdrawal of one service are serialised by its row lock.
    row = await session.scalar(
        select(StateService).where(col(StateService.id) == service_id).with_for_update()
    )
    if row is None:
        raise StateServiceNotFound(message_key="error.no-state-service", params={"id": service_id})
    return row


# --- writes -------------------------------------------------------------------------------


async def create_service(session: AsyncSession, body: StateServiceCreate, *, by: str) -> DraftRead:
    check_form_schema(body.form_schema)
    await _require_agency(session, body.agency_id)
    taken = await session.scalar(
        select(col(StateService.id)).where(col(StateService.code) == body.code)
    )
    if taken is not None:
        raise CodeTaken(
            message_key="error.service-code-taken", params={"code": repr(body.code), "id": taken}
        )
    now = _now()
    standard = body.model_dump(mode="json")
    row = StateService(
        id=service_id_for(body.code),
        code=body.code,
        agency_id=body.agency_id,
        status="draft",
        version=0,
        current=standard,
        search_text=_search_text(standard),
        draft=standard,
        draft_revision=1,
        published_revision=0,
        created_at=now,
        updated_at=now,
        draft_updated_at=now,
    )
    session.add(row)
    await session.flush()
    await _audit(session, row, "created", by)
    return _draft_read(row)


async def update_draft(
    session: AsyncSession,
    service_id: UUID,
    body: StateServiceUpdate,
    *,
    if_match: str | None,
    by: str,
) -> DraftRead:
    row = await _locked(session, service_id)
    # Two editors of one draft must not overwrite each other: the draft's revision is its ETag.
    check_if_match(if_match, row.draft_revision, required=True)
    changes = body.model_dump(mode="json", exclude_unset=True)
    nulls = sorted(k for k, v in changes.items() if v is None)
    if nulls:
        raise InvalidChange(
            message_key="error.fields-not-emptied",
            params={"fields": ", ".join(nulls)},
            errors=[
                {"location": f"body.{k}", "message": Message("validation.not-null")} for k in nulls
            ],
        )
    merged = {**row.draft, **changes}
    changed = sorted(k for k in changes if row.draft.get(k) != merged[k])
    if not changed:
        return _draft_read(row)
    if "form_schema" in changed:
        check_form_schema(merged["form_schema"])
    if "agency_id" in changed:
        await _require_agency(session, UUID(merged["agency_id"]))
    try:
        StandardFields.model_validate({k: v for k, v in merged.items() if k != "code"})
    except ValidationError as exc:  # a field combination no single field's check can see
        raise InvalidChange(
            message_key="error.draft-invalid",
            params={"reason": violation_message(exc.errors()[0])},
        ) from exc
    now = _now()
    row.draft = merged
    row.draft_revision += 1
    row.draft_updated_at = now
    if row.status == "draft":
        # Never published: what admins list is the draft itself.
        row.current = merged
        row.agency_id = UUID(merged["agency_id"])
        row.search_text = _search_text(merged)
        row.updated_at = now
    await _audit(session, row, "edited", by, fields=changed)
    return _draft_read(row)


async def publish(
    session: AsyncSession, service_id: UUID, *, by: str, if_match: str | None = None
) -> StateServiceRead:
    row = await _locked(session, service_id)
    check_if_match(if_match, row.draft_revision, required=False)
    if row.status == "published" and row.published_revision == row.draft_revision:
        raise NothingToPublish(
            message_key="error.nothing-to-publish", params={"version": row.version}
        )
    standard = row.draft
    await _require_agency(session, UUID(standard["agency_id"]))
    # The rules may have tightened since the draft was saved.
    check_form_schema(standard["form_schema"])
    now = _now()
    was_published = row.status == "published"
    row.version += 1
    row.status = "published"
    row.current = standard
    row.agency_id = UUID(standard["agency_id"])
    row.search_text = _search_text(standard)
    row.published_at = now
    row.updated_at = now
    row.published_revision = row.draft_revision
    session.add(
        StateServiceVersion(
            service_id=row.id,
            version=row.version,
            standard=standard,
            published_at=now,
            published_by=by,
        )
    )
    read = _read(row)
    await _emit(session, "updated" if was_published else "published", read)
    await _audit(session, row, "published", by, version=row.version)
    return read


async def _withdraw_row(session: AsyncSession, row: StateService, by: str, reason: str) -> None:
    row.status = "withdrawn"
    row.updated_at = _now()
    await _emit(session, "withdrawn", _read(row))
    await _audit(session, row, "withdrawn", by, version=row.version, reason=reason)


async def withdraw(
    session: AsyncSession, service_id: UUID, *, by: str, reason: str | None
) -> StateServiceRead:
    row = await _locked(session, service_id)
    if row.status != "published":
        raise NotPublished(message_key="error.withdraw-unpublished", params={"status": row.status})
    await _withdraw_row(session, row, by, reason or "withdrawn by an administrator")
    return _read(row)


async def withdraw_agency_services(session: AsyncSession, agency_id: UUID, *, by: str) -> int:
    """Withdraw every published service of an agency that stopped being active."""
    rows = (
        await session.scalars(
            select(StateService)
            .where(
                col(StateService.agency_id) == agency_id, col(StateService.status) == "published"
            )
            .order_by(col(StateService.code))
            .with_for_update()
        )
    ).all()
    for row in rows:
        await _withdraw_row(session, row, by, "the responsible agency was deactivated")
    return len(rows)


# --- reads --------------------------------------------------------------------------------


async def _visible(session: AsyncSession, service_id: UUID, *, admin: bool) -> StateService:
    row = await session.get(StateService, service_id)
    # A draft never published does not exist for the public.
    if row is None or (row.status == "draft" and not admin):
        raise StateServiceNotFound(message_key="error.no-state-service", params={"id": service_id})
    return row


async def get_service(session: AsyncSession, service_id: UUID, *, admin: bool) -> StateServiceRead:
    return _read(await _visible(session, service_id, admin=admin))


async def get_draft(session: AsyncSession, service_id: UUID, *, admin: bool) -> DraftRead:
    row = await session.get(StateService, service_id)
    if row is None or not admin:
        raise StateServiceNotFound(message_key="error.no-state-service", params={"id": service_id})
    return _draft_read(row)


def _like(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_services(
    session: AsyncSession,
    *,
    admin: bool,
    limit: int,
    cursors: CursorCodec,
    cursor: str | None = None,
    agency_id: UUID | None = None,
    channel: str | None = None,
    status: Status | None = None,
    q: str | None = None,
    updated_since: datetime | None = None,
) -> StateServicePage:
    after = cursors.decode(SERVICES_BY_CODE, cursor, [str]) if cursor is not None else None
    if status == "draft" and not admin:
        return StateServicePage(items=[], next_cursor=None)
    stmt = select(StateService)
    if status is not None:
        stmt = stmt.where(col(StateService.status) == status)
    elif not admin:
        stmt = stmt.where(col(StateService.status) == "published")
    if agency_id is not None:
        stmt = stmt.where(col(StateService.agency_id) == agency_id)
    if channel is not None:
        stmt = stmt.where(col(StateService.current)["channels"].contains([channel]))
    if q:
        stmt = stmt.where(col(StateService.search_text).like(_like(q), escape="\\"))
    if updated_since is not None:
        if updated_since.tzinfo is None:
            updated_since = updated_since.replace(tzinfo=UTC)
        stmt = stmt.where(col(StateService.updated_at) >= updated_since)
    if after is not None:
        stmt = stmt.where(col(StateService.code) > after[0])
    rows = (await session.scalars(stmt.order_by(col(StateService.code)).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return StateServicePage(
        items=[_read(r) for r in rows],
        next_cursor=cursors.encode(SERVICES_BY_CODE, [rows[-1].code]) if more else None,
    )


def _version_read(row: StateService, version: StateServiceVersion) -> StateServiceRead:
    latest = version.version == row.version
    return StateServiceRead.model_validate(
        {
            **version.standard,
            "id": row.id,
            "code": row.code,
            # Every version shares the service's status: a withdrawn service takes
            # no new applications under any of its versions.
            "status": row.status,
            "version": version.version,
            "published_at": version.published_at,
            "updated_at": row.updated_at if latest else version.published_at,
        }
    )


async def list_versions(
    session: AsyncSession,
    service_id: UUID,
    *,
    admin: bool,
    limit: int,
    cursors: CursorCodec,
    cursor: str | None,
) -> StateServicePage:
    row = await _visible(session, service_id, admin=admin)
    stmt = select(StateServiceVersion).where(col(StateServiceVersion.service_id) == row.id)
    if cursor is not None:
        (after,) = cursors.decode(VERSIONS_BY_NUMBER, cursor, [int])
        stmt = stmt.where(col(StateServiceVersion.version) > after)
    versions = (
        await session.scalars(stmt.order_by(col(StateServiceVersion.version)).limit(limit + 1))
    ).all()
    more = len(versions) > limit
    versions = versions[:limit]
    return StateServicePage(
        items=[_version_read(row, v) for v in versions],
        next_cursor=cursors.encode(VERSIONS_BY_NUMBER, [versions[-1].version]) if more else None,
    )


async def get_version(
    session: AsyncSession, service_id: UUID, number: int, *, admin: bool
) -> StateServiceRead:
    row = await _visible(session, service_id, admin=admin)
    version = await session.get(StateServiceVersion, (row.id, number))
    if version is None:
        raise VersionNotFound(
            message_key="error.no-service-version",
            params={"id": service_id, "number": number, "latest": row.version},
        )
    return _version_read(row, version)


async def list_audit(
    session: AsyncSession,
    service_id: UUID,
    *,
    admin: bool,
    limit: int,
    cursors: CursorCodec,
    cursor: str | None,
) -> AuditPage:
    row = await session.get(StateService, service_id)
    if row is None or not admin:
        raise StateServiceNotFound(message_key="error.no-state-service", params={"id": service_id})
    stmt = select(AuditEntry).where(col(AuditEntry.service_id) == service_id)
    if cursor is not None:
        (after,) = cursors.decode(AUDIT_BY_ID, cursor, [int])
        stmt = stmt.where(col(AuditEntry.id) > after)
    entries = (await session.scalars(stmt.order_by(col(AuditEntry.id)).limit(limit + 1))).all()
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(
        items=[AuditRead.model_validate(e, from_attributes=True) for e in entries],
        next_cursor=cursors.encode(AUDIT_BY_ID, [entries[-1].id]) if more else None,
    )


# --- the local agency copy ------------------------------------------------------------------


async def apply_agency(
    session: AsyncSession,
    data: dict[str, Any],
    *,
    kind: Literal["registered", "updated", "deactivated"],
) -> bool:
    """Keep the directory's agency if `data` is newer than the copy; withdraw the services of
    an agency that became inactive. Returns whether the copy changed."""
    agency = AgencyCopy.model_validate(data)
    status = "inactive" if kind == "deactivated" else agency.status
    copy = await session.get(Agency, agency.id, with_for_update=True)
    if copy is not None and copy.version >= agency.version:
        return False
    was_active = copy is not None and copy.status == "active"
    if copy is None:
        copy = Agency(
            id=agency.id,
            code=agency.code,
            status=status,
            version=agency.version,
            data=data,
            updated_at=_now(),
        )
        session.add(copy)
    else:
        copy.code = agency.code
        copy.status = status
        copy.version = agency.version
        copy.data = data
        copy.updated_at = _now()
    await session.flush()
    if status != "active":
        withdrawn = await withdraw_agency_services(session, agency.id, by="directory")
        log.info("agency_inactive", agency=agency.code, was_active=was_active, withdrawn=withdrawn)
    return True
