"""The directory's typed errors; portal_shared.errors renders each as problem+json."""

from __future__ import annotations

from portal_shared.errors import Conflict, NotFound, ValidationFailed


class AgencyNotFound(NotFound):
    slug = "agency-not-found"
    title = "Agency not found"


class DuplicateAgencyCode(Conflict):
    slug = "duplicate-agency-code"
    title = "Agency code already used"


class InvalidHierarchy(ValidationFailed):
    """An unknown parent, a parent that would make a cycle, or an inactive parent."""

    slug = "invalid-agency-hierarchy"
    title = "Invalid agency hierarchy"


class InactiveParent(Conflict):
    slug = "inactive-parent-agency"
    title = "Parent agency is inactive"


class ActiveChildren(Conflict):
    slug = "agency-has-active-children"
    title = "Agency has active children"
