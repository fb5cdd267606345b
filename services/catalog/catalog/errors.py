"""The catalog's typed errors; the shared handler renders each as problem+json."""

from __future__ import annotations

from portal_shared.errors import (
    Conflict,
    NotFound,
    ValidationFailed,
)


class StateServiceNotFound(NotFound):
    slug = "state-service-not-found"
    title = "State service not found"


class VersionNotFound(NotFound):
    slug = "state-service-version-not-found"
    title = "Version not found"


class CodeTaken(Conflict):
    slug = "state-service-code-taken"
    title = "Code already used"


class AgencyUnavailable(ValidationFailed):
    """The responsible agency is unknown to the local directory copy, or inactive."""

    slug = "agency-unavailable"
    title = "Agency unknown or inactive"


class InvalidFormSchema(ValidationFailed):
    slug = "invalid-form-schema"
    title = "Invalid form schema"


class InvalidChange(ValidationFailed):
    slug = "invalid-change"
    title = "Invalid change"


class NothingToPublish(Conflict):
    slug = "nothing-to-publish"
    title = "Nothing to publish"


class NotPublished(Conflict):
    slug = "state-service-not-published"
    title = "Not published"
