"""The requests API's bodies: what residents, officers and agency systems send and read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from portal_shared.text import STORABLE, StorableJSON
from service_requests.workflow import Status

Comment = Annotated[str, Field(min_length=1, max_length=4000), STORABLE]
# The form's fields: keys and strings PostgreSQL can store, finite numbers, 64-bit integers;
# its size and depth are bounded for every body at the service's edge (portal_shared.bodies).
FormData = StorableJSON


class Strict(BaseModel):
    # A body carrying fields the caller may not set (status, agency_id, applicant_id...)
    # is refused rather than silently half-applied.
    model_config = ConfigDict(extra="forbid")


DocumentCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class AttachDocument(Strict):
    """An uploaded document (`POST /api/v1/documents`) given as one of the service
    version's `required_documents`."""

    code: DocumentCode = Field(description="a `required_documents[].code` of the service")
    document_id: UUID


Attachments = Annotated[list[AttachDocument], Field(max_length=50)]


class RequestCreate(Strict):
    service_id: UUID
    form_data: FormData
    documents: Attachments = Field(default_factory=list)


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
    # Added to what is attached; a code given here replaces that code's documents.
    documents: Attachments = Field(default_factory=list)


class ApproveAction(_Action):
    action: Literal["approve"]
    comment: Comment | None = None


class RejectAction(_Action):
    action: Literal["reject"]
    reason_code: Annotated[str, Field(min_length=1, max_length=200), STORABLE]
    comment: Comment | None = None


class CompleteAction(_Action):
    action: Literal["complete"]
    result: Comment
    comment: Comment | None = None
    # A document the officer uploaded (a certificate...): the applicant downloads it.
    result_document_id: UUID | None = None


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


class DocumentKind(BaseModel):
    """A `required_documents[]` entry of a published version, with its rules."""

    code: str
    optional: bool = False
    content_types: list[str] | None = None
    max_size_bytes: int | None = None
    max_count: int = 1


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
    required_documents: list[DocumentKind] = Field(default_factory=list)
    status: Literal["draft", "published", "withdrawn"]
    version: int


class AgencyData(BaseModel):
    """`data` of directory.agency events: the public agency."""

    id: UUID
    timezone: str = "Asia/Almaty"
    status: str
    version: int


class DocumentRead(BaseModel):
    """An uploaded document's metadata (never its storage name)."""

    id: UUID
    filename: str = Field(description="the uploaded file's name, as display text only")
    content_type: str = Field(description="decided by the content, not by the name")
    size: int
    sha256: str
    status: Literal["clean", "pending", "infected"]
    created_at: datetime
    request_id: UUID | None = Field(default=None, description="the request it is attached to")
    code: str | None = Field(
        default=None, description="its `required_documents` code there, or `result`"
    )


class DocumentList(BaseModel):
    items: list[DocumentRead]
