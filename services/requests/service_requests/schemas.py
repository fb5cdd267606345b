"""The requests API's bodies: what residents, officers and agency systems send and read."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from service_requests.workflow import Status

UNSTORABLE = "must not contain NUL characters or unpaired UTF-16 surrogates"


def _unstorable(value: str) -> bool:
    # PostgreSQL cannot store NUL in text or JSONB, and a lone surrogate (which a JSON
    # "\ud800" escape yields) cannot even be encoded as UTF-8: refuse both as bad input.
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _text(value: str) -> str:
    if _unstorable(value):
        raise ValueError(UNSTORABLE)
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return _unstorable(value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _not_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_not_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_not_finite(v) for v in value)
    return False


def _json(value: dict[str, Any]) -> dict[str, Any]:
    if _has_nul(value):
        raise ValueError(UNSTORABLE)
    # Python's JSON parser takes NaN and Infinity, which are not JSON: stored as JSON they
    # would be refused by PostgreSQL or quietly become null.
    if _not_finite(value):
        raise ValueError("must not contain NaN or Infinity, which JSON does not have")
    return value


def _instant(moment: datetime) -> datetime:
    # A time without an offset is read as UTC rather than refused. A moment whose UTC
    # time falls outside years 1-9999 (0001-01-01T00:00:00+01:00) has no Python datetime
    # and no stored request can be near it: it is clamped to the nearest end of the range,
    # which keeps every comparison with a stored time as it would have been.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return _EARLIEST if moment.year == _EARLIEST.year else _LATEST


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)

Text = Annotated[str, AfterValidator(_text)]
# A moment in a query (list filters), in UTC.
Instant = Annotated[datetime, AfterValidator(_instant)]
Comment = Annotated[Text, Field(min_length=1, max_length=4000)]
FormData = Annotated[dict[str, Any], AfterValidator(_json)]


class Strict(BaseModel):
    # A body carrying fields the caller may not set (status, agency_id, applicant_id...)
    # is refused rather than silently half-applied.
    model_config = ConfigDict(extra="forbid")


class RequestCreate(Strict):
    service_id: UUID
    form_data: FormData


class _Action(Strict):
    # Optional alternative to If-Match for clients that cannot set headers.
    version: int | None = Field(default=None, ge=1)


class AcceptAction(_Action):
    action: Literal["accept"]
    comment: Comment | None = None


class RequestInfoAction(_Action):
    action: Literal["request_info"]
    comment: Comment


class ResubmitAction(_Action):
    action: Literal["resubmit"]
    form_data: FormData
    comment: Comment | None = None


class ApproveAction(_Action):
    action: Literal["approve"]
    comment: Comment | None = None


class RejectAction(_Action):
    action: Literal["reject"]
    reason_code: Text = Field(min_length=1, max_length=200)
    comment: Comment | None = None


class CompleteAction(_Action):
    action: Literal["complete"]
    result: Comment
    comment: Comment | None = None


class CancelAction(_Action):
    action: Literal["cancel"]
    comment: Comment | None = None


Action = Annotated[
    AcceptAction
    | RequestInfoAction
    | ResubmitAction
    | ApproveAction
    | RejectAction
    | CompleteAction
    | CancelAction,
    Field(discriminator="action"),
]


class RequestRead(BaseModel):
    id: UUID
    number: str = Field(examples=["BKR-2026-000123"])
    service_id: UUID
    service_version: int
    agency_id: UUID
    applicant_id: UUID
    status: Status
    submitted_at: datetime
    due_date: date
    version: int
    updated_at: datetime
    overdue: bool
    overdue_at: datetime | None
    reason_code: str | None = Field(description="the refusal ground of a rejected request")
    result: str | None = Field(description="the result of a completed request")
    form_data: dict[str, Any] | None = Field(
        description="the application's fields; null for callers who may not see them"
    )


class RequestPage(BaseModel):
    items: list[RequestRead]
    next_cursor: str | None


class HistoryRead(BaseModel):
    action: str
    from_status: Status | None
    to_status: Status
    version: int
    actor_id: str
    actor_role: str
    comment: str | None
    reason_code: str | None
    at: datetime


class HistoryPage(BaseModel):
    items: list[HistoryRead]
    next_cursor: str | None


class RequestEventData(BaseModel):
    """The `data` of every requests.request event: ids and status, never the applicant's
    personal data or form contents (an agency system fetches those with its token)."""

    id: UUID
    number: str
    status: Status
    previous_status: Status | None
    service_id: UUID
    service_version: int
    agency_id: UUID
    due_date: date
    version: int
    occurred_at: datetime


# What this service reads from other services' events: only the fields it uses.


class RefusalGround(BaseModel):
    code: str
    text: Any = None


class PublishedServiceData(BaseModel):
    """`data` of catalog.service events: the published version of a state service."""

    id: UUID
    code: str
    agency_id: UUID
    # 0: rendered on the day of application (the catalog allows 0 to 365).
    term_working_days: int = Field(ge=0, le=3650)
    refusal_grounds: list[RefusalGround] = Field(default_factory=list)
    form_schema: dict[str, Any] = Field(default_factory=dict)
    status: Literal["draft", "published", "withdrawn"]
    version: int


class AgencyData(BaseModel):
    """`data` of directory.agency events: the public agency."""

    id: UUID
    timezone: str = "Asia/Almaty"
    status: str
    version: int
