"""The directory's use cases: reading, registering, changing and deactivating agencies.

Each change bumps the agency's `version`, writes an audit entry (who, when, each
field before and after) and queues an event with the whole public agency in the
outbox, all in the caller's transaction. The caller (the request's session)
commits; use cases flush at most.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from directory.errors import (
    ActiveChildren,
    AgencyNotFound,
    DuplicateAgencyCode,
    InactiveParent,
    InvalidHierarchy,
)
from directory.events import DEACTIVATED, REGISTERED, SOURCE, TOPIC, UPDATED
from directory.models import Agency, AgencyAudit
from directory.schemas import (
    Actor,
    AgencyCreate,
    AgencyNode,
    AgencyPage,
    AgencyRead,
    AgencyStatus,
    AgencyUpdate,
    AuditEntry,
    AuditPage,
)
from portal_shared.auth import Principal
from portal_shared.events import add_event
from portal_shared.i18n import Message
from portal_shared.logging import request_id_var
from portal_shared.paging import CursorCodec
from portal_shared.preconditions import check_if_match

# Hierarchy changes take this transaction-level advisory lock, so two concurrent
# re-parentings cannot each pass the cycle check and together make a cycle.
_HIERARCHY_LOCK = (0x0D14, 1)
# Far deeper than any real hierarchy; it only bounds a walk over corrupt data.
MAX_DEPTH = 64
# Each list's cursors are bound to it (portal_shared.paging): its kind, and its sort key's types.
AGENCIES_BY_CODE = "directory.agencies:code"
AUDIT_BY_ID = "directory.audit:id"


# -- reading ------------------------------------------------------------------


def to_read(agency: Agency) -> AgencyRead:
    return AgencyRead.model_validate(
        {
            "id": agency.id,
            "code": agency.code,
            "name": {"kk": agency.name_kk, "ru": agency.name_ru, "en": agency.name_en},
            "kind": agency.kind,
            "parent_id": agency.parent_id,
            "bin": agency.bin,
            "city": agency.city,
            "address": agency.address,
            "timezone": agency.timezone,
            "working_hours": agency.working_hours,
            "contacts": agency.contacts,
            "status": agency.status,
            "version": agency.version,
            "created_at": agency.created_at,
            "updated_at": agency.updated_at,
        }
    )


def public_json(agency: Agency) -> dict[str, Any]:
    """The agency as GET returns it: the `data` of every event."""
    return to_read(agency).model_dump(mode="json")


async def get_agency(session: AsyncSession, agency_id: uuid.UUID, *, lock: bool = False) -> Agency:
    query = select(Agency).where(col(Agency.id) == agency_id)
    if lock:
        query = query.with_for_update()
    agency = (await session.execute(query)).scalars().first()
    if agency is None:
        raise AgencyNotFound(message_key="error.no-agency-id", params={"id": agency_id})
    return agency


async def get_agency_by_code(session: AsyncSession, code: str) -> Agency:
    agency = (
        (await session.execute(select(Agency).where(col(Agency.code) == code))).scalars().first()
    )
    if agency is None:
        raise AgencyNotFound(message_key="error.no-agency-code", params={"code": repr(code)})
    return agency


@dataclass(frozen=True)
class AgencyFilter:
    city: str | None = None
    kind: str | None = None
    parent_id: uuid.UUID | None = None
    status: AgencyStatus | None = None
    q: str | None = None
    updated_since: datetime | None = None


def fold(text: str) -> str:
    """Case- and ё-insensitive form for search, the same for stored names and queries."""
    return text.casefold().replace("\u0451", "\u0435")  # yo -> ye


async def list_agencies(
    session: AsyncSession,
    filters: AgencyFilter,
    *,
    limit: int,
    cursors: CursorCodec,
    cursor: str | None,
) -> AgencyPage:
    """Agencies in code order; the cursor is the last code of the previous page."""
    query = select(Agency).order_by(col(Agency.code)).limit(limit + 1)
    if cursor is not None:
        (after,) = cursors.decode(AGENCIES_BY_CODE, cursor, [str])
        query = query.where(col(Agency.code) > after)
    if filters.city is not None:
        query = query.where(col(Agency.city) == filters.city)
    if filters.kind is not None:
        query = query.where(col(Agency.kind) == filters.kind)
    if filters.parent_id is not None:
        query = query.where(col(Agency.parent_id) == filters.parent_id)
    if filters.status is not None:
        query = query.where(col(Agency.status) == filters.status)
    if filters.q:
        query = query.where(col(Agency.search_text).contains(fold(filters.q), autoescape=True))
    if filters.updated_since is not None:
        since = filters.updated_since
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # a time without an offset is taken as UTC
        query = query.where(col(Agency.updated_at) >= since)
    rows = list((await session.execute(query)).scalars().all())
    more = len(rows) > limit
    rows = rows[:limit]
    return AgencyPage(
        items=[to_read(a) for a in rows],
        next_cursor=cursors.encode(AGENCIES_BY_CODE, [rows[-1].code]) if more else None,
    )


async def descendant_ids(session: AsyncSession, agency_id: uuid.UUID) -> list[uuid.UUID]:
    """Every agency below `agency_id`, nearest first (not the agency itself)."""
    agencies = sa.table("agencies", sa.column("id", sa.Uuid), sa.column("parent_id", sa.Uuid))
    below = (
        sa.select(agencies.c.id, sa.literal(1).label("depth"))
        .where(agencies.c.parent_id == agency_id)
        .cte("below", recursive=True)
    )
    below = below.union_all(
        sa.select(agencies.c.id, (below.c.depth + 1).label("depth"))
        .join(below, agencies.c.parent_id == below.c.id)
        .where(below.c.depth < MAX_DEPTH)
    )
    rows = await session.execute(sa.select(below.c.id).order_by(below.c.depth, below.c.id))
    return list(rows.scalars().all())


async def ancestor_ids(session: AsyncSession, agency_id: uuid.UUID) -> list[uuid.UUID]:
    """`agency_id` and every agency above it, nearest first."""
    agencies = sa.table("agencies", sa.column("id", sa.Uuid), sa.column("parent_id", sa.Uuid))
    up = (
        sa.select(agencies.c.id, agencies.c.parent_id, sa.literal(0).label("depth"))
        .where(agencies.c.id == agency_id)
        .cte("up", recursive=True)
    )
    up = up.union_all(
        sa.select(agencies.c.id, agencies.c.parent_id, (up.c.depth + 1).label("depth"))
        .join(up, agencies.c.id == up.c.parent_id)
        .where(up.c.depth < MAX_DEPTH)
    )
    rows = await session.execute(sa.select(up.c.id).order_by(up.c.depth))
    return list(rows.scalars().all())


async def subtree(session: AsyncSession, agency_id: uuid.UUID) -> AgencyNode:
    root = await get_agency(session, agency_id)
    ids = await descendant_ids(session, agency_id)
    below: list[Agency] = []
    if ids:
        query = select(Agency).where(col(Agency.id).in_(ids)).order_by(col(Agency.code))
        below = list((await session.execute(query)).scalars().all())
    children: dict[uuid.UUID | None, list[Agency]] = {}
    for agency in below:
        children.setdefault(agency.parent_id, []).append(agency)

    def node(agency: Agency) -> AgencyNode:
        return AgencyNode(
            **to_read(agency).model_dump(),
            children=[node(c) for c in children.get(agency.id, [])],
        )

    return node(root)


# -- changing -----------------------------------------------------------------


def _changes(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each public field that differs, with its value before and after."""
    ignored = {"version", "updated_at", "created_at", "id"}
    before = before or {}
    return {
        name: {"from": before.get(name), "to": value}
        for name, value in after.items()
        if name not in ignored and before.get(name) != value
    }


async def _record(
    session: AsyncSession,
    agency: Agency,
    *,
    action: str,
    event_type: str,
    before: dict[str, Any] | None,
    by: Principal,
) -> None:
    """The audit entry and the outbox event for a change already applied to `agency`."""
    after = public_json(agency)
    session.add(
        AgencyAudit(
            agency_id=agency.id,
            version=agency.version,
            action=action,
            actor_subject=by.subject,
            actor_client_id=by.client_id,
            request_id=request_id_var.get(),
            changes=_changes(before, after),
            at=agency.updated_at,
        )
    )
    await session.flush()
    await add_event(
        session, topic=TOPIC, key=str(agency.id), type=event_type, source=SOURCE, data=after
    )


async def _parent_for(session: AsyncSession, parent_id: uuid.UUID) -> Agency:
    # FOR SHARE: a parent being deactivated (FOR UPDATE) cannot gain a child meanwhile.
    query = select(Agency).where(col(Agency.id) == parent_id).with_for_update(read=True)
    parent = (await session.execute(query)).scalars().first()
    if parent is None:
        raise InvalidHierarchy(
            message_key="error.parent-unknown",
            params={"id": parent_id},
            errors=[
                {"location": "body.parent_id", "message": Message("validation.agency-unknown")}
            ],
        )
    if parent.status != "active":
        raise InactiveParent(message_key="error.parent-inactive", params={"code": parent.code})
    return parent


def _apply_fields(agency: Agency, fields: dict[str, Any]) -> None:
    if "name" in fields:
        agency.name_kk, agency.name_ru, agency.name_en = (
            fields["name"]["kk"],
            fields["name"]["ru"],
            fields["name"]["en"],
        )
    for name in ("kind", "parent_id", "bin", "city", "address", "timezone"):
        if name in fields:
            setattr(agency, name, fields[name])
    if "working_hours" in fields:
        agency.working_hours = fields["working_hours"]
    if "contacts" in fields:
        agency.contacts = fields["contacts"]
    agency.search_text = fold(
        "\n".join((agency.code, agency.name_kk, agency.name_ru, agency.name_en))
    )


async def register_agency(
    session: AsyncSession, body: AgencyCreate, *, by: Principal, agency_id: uuid.UUID | None = None
) -> Agency:
    existing = await session.execute(select(Agency.id).where(col(Agency.code) == body.code))
    if existing.first() is not None:
        raise DuplicateAgencyCode(message_key="error.agency-code-taken", params={"code": body.code})
    if body.parent_id is not None:
        await _parent_for(session, body.parent_id)
    now = datetime.now(UTC)
    agency = Agency(
        id=agency_id or uuid.uuid4(),
        code=body.code,
        name_kk="",
        name_ru="",
        name_en="",
        kind=body.kind,
        parent_id=None,
        bin=body.bin,
        city=body.city,
        address=body.address,
        timezone=body.timezone,
        working_hours={},
        contacts={},
        status="active",
        version=1,
        search_text="",
        created_at=now,
        updated_at=now,
    )
    _apply_fields(agency, body.model_dump(mode="json", exclude={"code"}))
    agency.parent_id = body.parent_id
    session.add(agency)
    await session.flush()
    await _record(session, agency, action="registered", event_type=REGISTERED, before=None, by=by)
    return agency


async def update_agency(
    session: AsyncSession,
    agency_id: uuid.UUID,
    body: AgencyUpdate,
    *,
    if_match: str | None,
    by: Principal,
) -> Agency:
    """Apply the fields the client sent; a change that changes nothing is not a new version.

    It must say which version it changes, in If-Match or the body's `version`.
    """
    fields = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    if "parent_id" in fields:
        # Re-parentings are serialised so that the cycle check below stays true at commit.
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock(*_HIERARCHY_LOCK)))
    agency = await get_agency(session, agency_id, lock=True)
    check_if_match(if_match, agency.version, required=True, body_version=body.version)
    new_parent = body.parent_id
    if "parent_id" in fields and new_parent != agency.parent_id and new_parent is not None:
        if new_parent == agency.id:
            raise InvalidHierarchy(
                message_key="error.parent-itself",
                errors=[
                    {"location": "body.parent_id", "message": Message("validation.parent-itself")}
                ],
            )
        await _parent_for(session, new_parent)
        if agency.id in await ancestor_ids(session, new_parent):
            raise InvalidHierarchy(
                message_key="error.parent-cycle",
                params={"id": new_parent, "code": agency.code},
                errors=[
                    {"location": "body.parent_id", "message": Message("validation.parent-cycle")}
                ],
            )
    if "parent_id" in fields:
        fields["parent_id"] = new_parent
    before = public_json(agency)
    _apply_fields(agency, fields)
    if not _changes(before, public_json(agency)):
        return agency
    agency.version += 1
    agency.updated_at = datetime.now(UTC)
    await session.flush()
    await _record(session, agency, action="updated", event_type=UPDATED, before=before, by=by)
    return agency


async def deactivate_agency(
    session: AsyncSession,
    agency_id: uuid.UUID,
    *,
    cascade: bool,
    if_match: str | None,
    body_version: int | None,
    by: Principal,
) -> Agency:
    """Deactivate an agency; with `cascade`, its active descendants first, deepest first,
    so no consumer ever sees an active agency under an inactive one. Deactivating an
    inactive agency changes nothing. A precondition is checked when sent, never required."""
    agency = await get_agency(session, agency_id, lock=True)
    check_if_match(if_match, agency.version, required=False, body_version=body_version)
    if agency.status == "inactive":
        return agency
    below_ids = await descendant_ids(session, agency_id)
    active_below: list[Agency] = []
    if below_ids:
        query = (
            select(Agency)
            .where(col(Agency.id).in_(below_ids), col(Agency.status) == "active")
            .order_by(col(Agency.id))
            .with_for_update()
        )
        active_below = list((await session.execute(query)).scalars().all())
    if active_below and not cascade:
        codes = ", ".join(sorted(a.code for a in active_below)[:10])
        raise ActiveChildren(
            message_key="error.active-children",
            params={"code": agency.code, "count": len(active_below), "codes": codes},
            active_children=len(active_below),
        )
    depth = {aid: i for i, aid in enumerate(below_ids)}
    for child in sorted(active_below, key=lambda a: -depth[a.id]):
        await _set_status(session, child, "inactive", by=by)
    await _set_status(session, agency, "inactive", by=by)
    return agency


async def activate_agency(
    session: AsyncSession, agency_id: uuid.UUID, *, if_match: str | None, by: Principal
) -> Agency:
    """Activate an inactive agency (not its descendants); its parent must be active."""
    agency = await get_agency(session, agency_id, lock=True)
    check_if_match(if_match, agency.version, required=False)
    if agency.status == "active":
        return agency
    if agency.parent_id is not None:
        await _parent_for(session, agency.parent_id)
    await _set_status(session, agency, "active", by=by)
    return agency


async def _set_status(
    session: AsyncSession, agency: Agency, status: AgencyStatus, *, by: Principal
) -> None:
    before = public_json(agency)
    agency.status = status
    agency.version += 1
    agency.updated_at = datetime.now(UTC)
    await session.flush()
    inactive = status == "inactive"
    await _record(
        session,
        agency,
        action="deactivated" if inactive else "activated",
        # The contract has no `activated` event: consumers see an update of the status.
        event_type=DEACTIVATED if inactive else UPDATED,
        before=before,
        by=by,
    )


async def audit_trail(
    session: AsyncSession,
    agency_id: uuid.UUID,
    *,
    limit: int,
    cursors: CursorCodec,
    cursor: str | None,
) -> AuditPage:
    """An agency's changes, oldest first."""
    await get_agency(session, agency_id)
    query = (
        select(AgencyAudit)
        .where(col(AgencyAudit.agency_id) == agency_id)
        .order_by(col(AgencyAudit.id))
        .limit(limit + 1)
    )
    if cursor is not None:
        (after,) = cursors.decode(AUDIT_BY_ID, cursor, [int])
        query = query.where(col(AgencyAudit.id) > after)
    rows = list((await session.execute(query)).scalars().all())
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[
            AuditEntry.model_validate(
                {
                    "id": row.id,
                    "agency_id": row.agency_id,
                    "version": row.version,
                    "action": row.action,
                    "actor": Actor(subject=row.actor_subject, client_id=row.actor_client_id),
                    "request_id": row.request_id,
                    "at": row.at,
                    "changes": row.changes,
                }
            )
            for row in rows
        ],
        next_cursor=cursors.encode(AUDIT_BY_ID, [rows[-1].id]) if more else None,
    )
