"""The requests service's typed errors; portal_shared renders them as problem+json."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portal_shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from portal_shared.i18n import translate
from portal_shared.validation import field_message, type_name


class RequestNotFound(NotFound):
    slug = "request-not-found"
    title = "Request not found"


class ServiceNotAvailable(ValidationFailed):
    """The state service is unknown here, never published, or withdrawn."""

    slug = "service-not-available"
    title = "State service not available"


@dataclass(frozen=True)
class Violation:
    """One way form data breaks the form (service_requests.forms), before it is worded."""

    pointer: str
    location: str
    code: str
    titles: Mapping[str, str] | str  # by language, or one title for every language
    limit: str = ""
    limit_kind: str = "text"  # "type" and "format" limits are translated too

    def field(self, language: str) -> str:
        if isinstance(self.titles, str):
            return self.titles
        return (
            self.titles.get(language) or self.titles.get("en") or next(iter(self.titles.values()))
        )

    def message(self, language: str) -> str:
        limit = self.limit
        if self.limit_kind == "type":
            limit = " | ".join(type_name(language, t) for t in limit.split(" | "))
        elif self.limit_kind == "format":
            limit = translate(language, f"format.{limit}", default=limit)
        return field_message(language, self.code, self.field(language), limit)


class FormInvalid(ValidationFailed):
    """Form data that breaks the form: each violation worded in the caller's language."""

    slug = "form-invalid"
    title = "Form data does not match the service's form"

    violations: tuple[Violation, ...] = ()
    count = 0
    max_message = 300

    @classmethod
    def of(cls, count: int, violations: list[Violation], *, max_message: int) -> FormInvalid:
        error = cls(message_key="error.form-invalid", params={"count": count, "summary": ""})
        error.violations = tuple(violations)
        error.count = count
        error.max_message = max_message
        error.extra = error.extra_in("en")
        error.detail = error.detail_in("en")
        return error

    def _entries(self, language: str) -> list[dict[str, Any]]:
        def bounded(text: str) -> str:
            size = self.max_message
            return text if len(text) <= size else text[: size - 3] + "..."

        return [
            {
                "location": v.location,
                "pointer": v.pointer,
                "code": v.code,
                "message": bounded(v.message(language)),
            }
            for v in self.violations
        ]

    def extra_in(self, language: str) -> dict[str, Any]:
        if not self.violations:
            return self.extra
        return {**self.extra, "errors": self._entries(language)}

    def detail_in(self, language: str) -> str:
        if not self.violations:
            return super().detail_in(language)
        summary = "; ".join(e["message"] for e in self._entries(language)[:5])
        return translate(language, "error.form-invalid", {"count": self.count, "summary": summary})


class UnknownRefusalGround(ValidationFailed):
    slug = "unknown-refusal-ground"
    title = "Unknown refusal ground"


class ActionNotAllowed(Conflict):
    """The action does not apply to the request's current status."""

    slug = "action-not-allowed"
    title = "Action not allowed in this status"


class NotYourRole(Forbidden):
    slug = "action-forbidden"
    title = "Not allowed to take this action"


class IdempotencyKeyReused(Conflict):
    slug = "idempotency-key-reused"
    title = "Idempotency-Key already used with another body"
