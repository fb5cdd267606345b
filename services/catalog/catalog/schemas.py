"""The catalog's API shapes: a service's standard, its drafts, versions, pages and audit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)

from catalog import examples
from portal_shared.text import STORABLE, PublishableJSON
from portal_shared.validation import invalid

Status = Literal["draft", "published", "withdrawn"]
# portal: online here; psc: a Public Service Centre (ЦОН); agency: in person at the agency.
Channel = Literal["portal", "psc", "agency"]
Lang = Literal["kk", "ru", "en"]

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$", examples=["birth-registration"])]
ShortCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
# Every text and the open form schema refuse what PostgreSQL cannot store (NUL, lone
# surrogates) and, in the schema (which events carry), integers wider than 64 bits.
Text = Annotated[str, Field(min_length=1, max_length=4000), STORABLE]
# Tenge amounts may have tiyn (state duties are fractions of the monthly index);
# they travel as JSON numbers, not strings.
Amount = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("1000000000"), decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Localized(Strict):
    """The same text in Kazakh, Russian and English."""

    kk: Text
    ru: Text
    en: Text


class Fee(Strict):
    amount: Amount = Field(description="In KZT; 0 for a free service")
    currency: Literal["KZT"] = "KZT"


class RefusalGround(Strict):
    code: ShortCode
    text: Localized


MediaType = Annotated[str, Field(pattern=r"^[a-z]+/[a-z0-9][a-z0-9.+-]{0,99}$")]


class DocumentRules(BaseModel):
    """What the requests service checks when an application attaches a document of this
    kind (its own allow-list of types and size limit apply as well)."""

    optional: bool = Field(default=False, description="may the application leave it out")
    content_types: list[MediaType] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="the types allowed for this document (by content); unset: any the "
        "portal accepts",
        examples=[["application/pdf", "image/jpeg"]],
    )
    max_size_bytes: int | None = Field(default=None, ge=1, le=1024 * 1024 * 1024)
    max_count: int = Field(default=1, ge=1, le=20, description="files of this kind at most")


class RequiredDocument(DocumentRules, Strict):
    code: ShortCode
    name: Localized


def _unique_codes(items: list[Any]) -> list[Any]:
    codes = [item.code for item in items]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise invalid("codes-repeated", codes=", ".join(duplicates))
    return items


class StandardFields(Strict):
    """What an administrator may edit in a draft (everything but the code)."""

    name: Localized
    description: Localized
    agency_id: UUID
    term_working_days: int = Field(ge=0, le=365, description="0 means the same day")
    fee: Fee
    result: Localized
    required_documents: list[RequiredDocument] = Field(default_factory=list, max_length=50)
    refusal_grounds: list[RefusalGround] = Field(default_factory=list, max_length=50)
    channels: list[Channel] = Field(min_length=1, max_length=3)
    form_schema: PublishableJSON = Field(
        description="JSON Schema (draft 2020-12) of the application's fields: an object "
        "schema whose every property has `x-title: {kk, ru, en}`"
    )

    @field_validator("required_documents", "refusal_grounds")
    @classmethod
    def _codes_unique(cls, items: list[Any]) -> list[Any]:
        return _unique_codes(items)

    @field_validator("channels")
    @classmethod
    def _channels_unique(cls, channels: list[Channel]) -> list[Channel]:
        if len(set(channels)) != len(channels):
            raise invalid("channels-repeated")
        return channels


class StateServiceCreate(StandardFields):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SERVICE_CREATE]})

    code: Code


class StateServiceUpdate(Strict):
    """A partial edit of the draft; an absent field is left as it is."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.SERVICE_UPDATE]})

    name: Localized | None = None
    description: Localized | None = None
    agency_id: UUID | None = None
    term_working_days: int | None = Field(default=None, ge=0, le=365)
    fee: Fee | None = None
    result: Localized | None = None
    required_documents: list[RequiredDocument] | None = Field(default=None, max_length=50)
    refusal_grounds: list[RefusalGround] | None = Field(default=None, max_length=50)
    channels: list[Channel] | None = Field(default=None, min_length=1, max_length=3)
    form_schema: PublishableJSON | None = None


class StateServiceRead(StandardFields):
    """A service as one version of its standard describes it (or its draft, for admins)."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.SERVICE_READ]})

    id: UUID
    code: Code
    status: Status
    version: int = Field(description="The published version; 0 for a draft never published")
    published_at: datetime | None
    updated_at: datetime


class DraftRead(StateServiceRead):
    """The draft an administrator edits; its `revision` is the ETag that If-Match names."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.DRAFT_READ]})

    revision: int
    has_unpublished_changes: bool


class StateServicePage(BaseModel):
    items: list[StateServiceRead]
    next_cursor: str | None


class WithdrawBody(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.WITHDRAW]})

    reason: Annotated[str, Field(max_length=1000), STORABLE] | None = None


class AuditRead(BaseModel):
    id: int
    at: datetime
    actor: str
    action: Literal["created", "edited", "published", "withdrawn"]
    version: int | None
    revision: int | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_cursor: str | None


class AgencyCopy(BaseModel):
    """The fields of a directory agency event that the catalog relies on."""

    model_config = ConfigDict(extra="allow")

    id: UUID
    code: str
    status: Literal["active", "inactive"]
    version: int


class RequiredDocumentFlat(DocumentRules):
    code: str
    name: str


class RefusalGroundFlat(BaseModel):
    code: str
    text: str


class StateServiceFlat(BaseModel):
    """A service with each text in the one language `?lang=` or Accept-Language chose."""

    id: UUID
    code: str
    name: str
    description: str
    agency_id: UUID
    term_working_days: int
    fee: Fee
    result: str
    required_documents: list[RequiredDocumentFlat]
    refusal_grounds: list[RefusalGroundFlat]
    channels: list[Channel]
    form_schema: dict[str, Any] = Field(
        description="As stored, with each property's `title` taken from its `x-title`"
    )
    status: Status
    version: int
    published_at: datetime | None
    updated_at: datetime


class StateServiceFlatPage(BaseModel):
    items: list[StateServiceFlat]
    next_cursor: str | None
