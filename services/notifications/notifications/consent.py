"""Who is emailed: the one rule for a person's preferences (what they chose, or the
defaults) and for whether their email can go out, shared by the inbox API, the request
consumer and the release of held emails."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notifications.schemas import Preferences

STAFF_ROLES = frozenset({"officer", "admin"})


def preferences(choice: Any | None, roles: Sequence[str] | None) -> Preferences:
    """What the person chose (a `preferences` row, or None); until they choose, Kazakh, and
    email only for staff: a resident's email needs their consent, an officer's is their
    work address. `roles` are the account's (None while identity has not described it)."""
    if choice is not None:
        return Preferences.model_validate({"language": choice.language, "email": choice.email})
    return Preferences(email=bool(STAFF_ROLES & set(roles or [])))


def address(prefs: Preferences, recipient: Any | None) -> str | None:
    """Where the person's email goes: their address, if they want email, are active and
    identity gave one; None means no email."""
    if prefs.email and recipient is not None and recipient.status == "active":
        return str(recipient.email) if recipient.email else None
    return None
