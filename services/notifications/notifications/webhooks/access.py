"""Who may subscribe, and whose subscriptions a caller sees.

Every subscription operation requires the scope `events:subscribe` (portal_shared.scopes,
checked by the route's dependency); on top of it the caller must be an administrator (every
agency) or an agency system's client bound to an agency (its own agency only).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from notifications.webhooks.errors import SubscribeForbidden
from portal_shared.auth import Principal
from portal_shared.scopes import EVENTS_SUBSCRIBE

SUBSCRIBE_SCOPE = EVENTS_SUBSCRIBE


@dataclass(frozen=True)
class Subscriber:
    """The caller as the webhooks see it: an admin (every agency) or one agency's system."""

    owner: str
    account_id: UUID | None
    agency_id: UUID | None
    admin: bool


def subscriber(principal: Principal) -> Subscriber:
    """The caller as a subscriber, or SubscribeForbidden."""
    if principal.has_role("admin") and not principal.is_client:
        return Subscriber(principal.subject, principal.account_id, None, admin=True)
    if principal.is_client:
        if principal.agency_id is None:
            raise SubscribeForbidden(message_key="error.client-without-agency")
        return Subscriber(principal.client_id, None, principal.agency_id, admin=False)
    raise SubscribeForbidden(
        message_key="error.subscribe-needs", params={"scope": repr(SUBSCRIBE_SCOPE)}
    )
