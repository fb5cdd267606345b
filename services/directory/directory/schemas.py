"""The directory's API shapes: what a client sends and what it gets back.

Every string a client sends is stripped, length-limited and a `SingleLine` (no control
characters: PostgreSQL refuses NUL, and no name or address needs a tab), so no input
reaches the database in a form it would reject with a 500.
"""

from __future__ import annotations

import re
import uuid
import zoneinfo
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from directory import examples
from directory.bin_number import bin_problem
from portal_shared.text import SINGLE_LINE
from portal_shared.validation import invalid


def _valid_code(value: str) -> str:
    if not re.fullmatch(r"[A-Z0-9]+(?:-[A-Z0-9]+)*", value):
        raise invalid("agency-code")
    return value


def _valid_bin(value: str) -> str:
    problem = bin_problem(value)
    if problem:
        raise invalid(problem)
    return value


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _valid_timezone(value: str) -> str:
    if value not in known_timezones():
        raise invalid("time-zone", value=repr(value))
    return value


def _line(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


# Required, stripped, single-line strings.
Name = Annotated[str, _line(300), SINGLE_LINE]
City = Annotated[str, _line(100), SINGLE_LINE]
Address = Annotated[str, _line(500), SINGLE_LINE]
Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=64),
    SINGLE_LINE,
    AfterValidator(_valid_code),
]
Bin = Annotated[
    str, StringConstraints(strip_whitespace=True), SINGLE_LINE, AfterValidator(_valid_bin)
]
TimeZone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=64),
    SINGLE_LINE,
    AfterValidator(_valid_timezone),
]
Clock = Annotated[
    str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$"), Field(examples=["09:00"])
]

AgencyKind = Literal[
    "ministry",
    "committee",
    "state_corporation",
    "department",
    "division",
    "public_service_centre",
    "local_executive_body",
]
AgencyStatus = Literal["active", "inactive"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Strict(BaseModel):
    """Unknown fields are refused, so a misspelt field is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid")


class AgencyName(Strict):
    kk: Name
    ru: Name
    en: Name


class Break(Strict):
    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _ordered(self) -> Break:
        if self.start >= self.end:
            raise invalid("break-order", start=self.start, end=self.end)
        return self


class DayHours(Strict):
    """One day's opening hours; zero-padded HH:MM strings compare in time order."""

    open: Clock
    close: Clock
    breaks: list[Break] = Field(default_factory=list, max_length=5)

    @model_validator(mode="after")
    def _consistent(self) -> DayHours:
        if self.open >= self.close:
            raise invalid("day-order", open=self.open, close=self.close)
        previous_end = self.open
        for b in sorted(self.breaks, key=lambda b: b.start):
            if b.start <= self.open or b.end >= self.close:
                raise invalid(
                    "break-outside", start=b.start, end=b.end, open=self.open, close=self.close
                )
            if b.start < previous_end:
                raise invalid("break-overlap", start=b.start, end=b.end)
            previous_end = b.end
        return self


class WorkingHours(Strict):
    """Opening hours per weekday in the agency's own time zone; null means closed."""

    mon: DayHours | None = None
    tue: DayHours | None = None
    wed: DayHours | None = None
    thu: DayHours | None = None
    fri: DayHours | None = None
    sat: DayHours | None = None
    sun: DayHours | None = None


def _valid_phone(value: str) -> str:
    # Spaces, hyphens and brackets are how people write numbers; the stored form is E.164.
    digits = re.sub(r"[\s\-()]", "", value)
    if not re.fullmatch(r"\+\d{10,15}", digits):
        raise invalid("phone-number")
    return digits


def _valid_email(value: str) -> str:
    if not re.fullmatch(
        r"[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+", value
    ):
        raise invalid("email-address")
    return value.lower()


def _valid_website(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or "." not in (parts.hostname or ""):
        raise invalid("website-url")
    return value


class Contacts(Strict):
    phone: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=32),
            SINGLE_LINE,
            AfterValidator(_valid_phone),
        ]
        | None
    ) = None
    email: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=254),
            SINGLE_LINE,
            AfterValidator(_valid_email),
        ]
        | None
    ) = None
    website: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=500),
            SINGLE_LINE,
            AfterValidator(_valid_website),
        ]
        | None
    ) = None


class AgencyCreate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.AGENCY_CREATE]})

    code: Code
    name: AgencyName
    kind: AgencyKind
    parent_id: uuid.UUID | None = None
    bin: Bin
    city: City
    address: Address
    timezone: TimeZone = "Asia/Almaty"
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    contacts: Contacts = Field(default_factory=Contacts)


class AgencyUpdate(Strict):
    """The fields to change; absent fields stay. `parent_id: null` makes the agency a root.

    The code is the agency's stable identifier and the status changes only through
    deactivate/activate, so neither is here.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [examples.AGENCY_UPDATE]})

    name: AgencyName | None = None
    kind: AgencyKind | None = None
    parent_id: uuid.UUID | None = None
    bin: Bin | None = None
    city: City | None = None
    address: Address | None = None
    timezone: TimeZone | None = None
    working_hours: WorkingHours | None = None
    contacts: Contacts | None = None
    version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="The version being edited, when the If-Match header is not used",
    )

    @model_validator(mode="after")
    def _no_null_for_required(self) -> AgencyUpdate:
        # Absent means "keep"; null is meaningful only for parent_id (no parent).
        nulls = sorted(
            name
            for name in self.model_fields_set
            if name != "parent_id" and getattr(self, name) is None
        )
        if nulls:
            raise invalid("null-fields", fields=", ".join(nulls))
        return self


class Deactivation(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DEACTIVATION]})

    cascade: bool = Field(
        default=False,
        description=(
            "Also deactivate every active agency below this one; without it, an agency"
            " with active children is not deactivated (409)"
        ),
    )
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class AgencyRead(BaseModel):
    """The public agency: what GET returns and what every event carries in `data`."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.AGENCY_READ]})

    id: uuid.UUID
    code: str
    name: AgencyName
    kind: AgencyKind
    parent_id: uuid.UUID | None
    bin: str
    city: str
    address: str
    timezone: str
    working_hours: WorkingHours
    contacts: Contacts
    status: AgencyStatus
    version: int = Field(description="1 when registered, +1 on each change; also the ETag")
    created_at: datetime
    updated_at: datetime


class AgencyPage(BaseModel):
    items: list[AgencyRead]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end"
    )


class AgencyNode(AgencyRead):
    """An agency with the agencies directly below it, each with theirs."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.AGENCY_NODE]})

    children: list[AgencyNode]


class Actor(BaseModel):
    subject: str
    client_id: str


class AuditEntry(BaseModel):
    id: int
    agency_id: uuid.UUID
    version: int
    action: Literal["registered", "updated", "deactivated", "activated"]
    actor: Actor
    request_id: str | None
    at: datetime
    changes: dict[str, dict[str, object]] = Field(
        description="Each changed field with its value before (`from`) and after (`to`)"
    )


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None
