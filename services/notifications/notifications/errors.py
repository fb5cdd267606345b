"""The notifications service's typed errors; the shared handler renders each as problem+json."""

from __future__ import annotations

from portal_shared.errors import Forbidden, NotFound


class NotificationNotFound(NotFound):
    slug = "notification-not-found"
    title = "Notification not found"


class AccountRequired(Forbidden):
    """An agency system's client token acts for no person, so it has no inbox."""

    slug = "account-required"
    title = "A person's token is needed"
