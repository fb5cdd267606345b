"""The requests service's typed errors; portal_shared renders them as problem+json."""

from __future__ import annotations

from portal_shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)


class RequestNotFound(NotFound):
    slug = "request-not-found"
    title = "Request not found"


class ServiceNotAvailable(ValidationFailed):
    """The state service is unknown here, never published, or withdrawn."""

    slug = "service-not-available"
    title = "State service not available"


class FormInvalid(ValidationFailed):
    slug = "form-invalid"
    title = "Form data does not match the service's form"


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
