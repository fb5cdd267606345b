"""The read model: what a caller gets back about requests, built from stored rows.

`request_read` builds a RequestRead from a row of the requests table, whether the ORM
loaded it or the submission's statement returned it, so a first answer, its replay and
a later read are built alike. Listings are keyset-paged in one of four orders; each
order's sort key ends with the id, and its cursor is bound to the order (its kind is
``requests:<order>``), so a cursor of one order is refused by another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import col

from portal_shared.auth import Principal
from portal_shared.paging import CursorCodec
from service_requests.access import sees_form
from service_requests.models import HistoryEntry, ServiceRequest
from service_requests.schemas import HistoryPage, HistoryRead, RequestPage, RequestRead
from service_requests.workflow import Status

Order = Literal["-submitted_at", "submitted_at", "updated_at", "overdue_first"]
HISTORY_CURSOR = "requests:history"


class Row(Protocol):
    """A stored request by column name: an asyncpg record, or `Columns` over an ORM row."""

    def __getitem__(self, column: str) -> Any: ...


class Columns:
    """An ORM-loaded request read by column name."""

    __slots__ = ("_request",)

    def __init__(self, request: ServiceRequest) -> None:
        self._request = request

    def __getitem__(self, column: str) -> Any:
        return getattr(self._request, column)


def request_read(row: Row, principal: Principal) -> RequestRead:
    """The request as `principal` may see it. Built unvalidated: every value comes from a
    column of the requests table, already of its type."""
    agency_id, applicant_id = row["agency_id"], row["applicant_id"]
    shown = sees_form(principal, agency_id=agency_id, applicant_id=applicant_id)
    return RequestRead.model_construct(
        id=row["id"],
        number=row["number"],
        service_id=row["service_id"],
        service_version=row["service_version"],
        agency_id=agency_id,
        applicant_id=applicant_id,
        status=Status(row["status"]),
        submitted_at=row["submitted_at"],
        due_date=row["due_date"],
        version=row["version"],
        updated_at=row["updated_at"],
        overdue=row["overdue_at"] is not None,
        overdue_at=row["overdue_at"],
        reason_code=row["reason_code"],
        result=row["result"],
        form_data=row["form_data"] if shown else None,
    )


def to_read(request: ServiceRequest, principal: Principal) -> RequestRead:
    return request_read(Columns(request), principal)


def history_read(entry: HistoryEntry) -> HistoryRead:
    return HistoryRead(
        action=entry.action,
        from_status=Status(entry.from_status) if entry.from_status else None,
        to_status=Status(entry.to_status),
        version=entry.version,
        actor_id=entry.actor_id,
        actor_role=entry.actor_role,
        comment=entry.comment,
        reason_code=entry.reason_code,
        at=entry.at,
    )


# Listing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFilters:
    """The list's filters; moments are aware (portal_shared.text.UtcDatetime makes them so)."""

    status: list[Status] | None = None
    service_id: UUID | None = None
    agency_id: UUID | None = None
    overdue: bool | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    due_from: date | None = None
    due_to: date | None = None
    updated_since: datetime | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        r = ServiceRequest
        found: list[sa.ColumnElement[bool]] = []
        if self.status:
            found.append(col(r.status).in_([s.value for s in self.status]))
        if self.service_id is not None:
            found.append(col(r.service_id) == self.service_id)
        if self.agency_id is not None:
            found.append(col(r.agency_id) == self.agency_id)
        if self.overdue is not None:
            marked = col(r.overdue_at)
            found.append(marked.is_not(None) if self.overdue else marked.is_(None))
        if self.submitted_from is not None:
            found.append(col(r.submitted_at) >= self.submitted_from)
        if self.submitted_to is not None:
            found.append(col(r.submitted_at) < self.submitted_to)
        if self.due_from is not None:
            found.append(col(r.due_date) >= self.due_from)
        if self.due_to is not None:
            found.append(col(r.due_date) <= self.due_to)
        if self.updated_since is not None:
            found.append(col(r.updated_at) >= self.updated_since)
        return found


@dataclass(frozen=True)
class Ordering:
    """One listing order: its sort key (all ascending or all descending, ending with the
    id), the types its cursor holds, and the key of a row."""

    columns: Callable[[], list[Any]]
    descending: bool
    types: tuple[type[Any], ...]
    key: Callable[[ServiceRequest], list[Any]]


ORDERINGS: dict[str, Ordering] = {
    "-submitted_at": Ordering(
        lambda: [col(ServiceRequest.submitted_at), col(ServiceRequest.id)],
        True,
        (datetime, UUID),
        lambda r: [r.submitted_at, r.id],
    ),
    "submitted_at": Ordering(
        lambda: [col(ServiceRequest.submitted_at), col(ServiceRequest.id)],
        False,
        (datetime, UUID),
        lambda r: [r.submitted_at, r.id],
    ),
    "updated_at": Ordering(
        lambda: [col(ServiceRequest.updated_at), col(ServiceRequest.id)],
        False,
        (datetime, UUID),
        lambda r: [r.updated_at, r.id],
    ),
    # Overdue first (false sorts before true), then the most urgent.
    "overdue_first": Ordering(
        lambda: [
            col(ServiceRequest.overdue_at).is_(None),
            col(ServiceRequest.due_date),
            col(ServiceRequest.id),
        ],
        False,
        (bool, date, UUID),
        lambda r: [r.overdue_at is None, r.due_date, r.id],
    ),
}


def cursor_kind(order: Order) -> str:
    return f"requests:{order}"


def keyset(
    query: sa.Select[Any], order: Order, cursor: str | None, cursors: CursorCodec
) -> sa.Select[Any]:
    """`query` in `order`, resumed after the row the cursor names (400 for a bad cursor)."""
    ordering = ORDERINGS[order]
    keys = ordering.columns()
    if cursor is not None:
        after = cursors.decode(cursor_kind(order), cursor, ordering.types)
        row, bound = sa.tuple_(*keys), sa.tuple_(*after)
        query = query.where(row < bound if ordering.descending else row > bound)
    return query.order_by(*(k.desc() if ordering.descending else k.asc() for k in keys))


def request_page(
    rows: Sequence[ServiceRequest],
    principal: Principal,
    *,
    limit: int,
    order: Order,
    cursors: CursorCodec,
) -> RequestPage:
    """A page from up to `limit + 1` rows: the extra one only says that more follow."""
    shown = rows[:limit]
    more = len(rows) > limit
    return RequestPage(
        items=[to_read(x, principal) for x in shown],
        next_cursor=(
            cursors.encode(cursor_kind(order), ORDERINGS[order].key(shown[-1])) if more else None
        ),
    )


def history_page(rows: Sequence[HistoryEntry], *, limit: int, cursors: CursorCodec) -> HistoryPage:
    shown = rows[:limit]
    more = len(rows) > limit
    return HistoryPage(
        items=[history_read(h) for h in shown],
        next_cursor=cursors.encode(HISTORY_CURSOR, [shown[-1].id]) if more else None,
    )
