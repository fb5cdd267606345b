"""Who may subscribe, and whose subscriptions a caller sees.

`may_subscribe` reads the token's scope claim for `events:subscribe`; when the shared
scopes module lands it is the one function to swap for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from notifications.webhooks.errors import SubscribeForbidden
from portal_shared.auth import Principal

SUBSCRIBE_SCOPE = "events:subscribe"


def may_subscribe(principal: Principal) -> bool:
    """An agency system's client-credentials token granted `events:subscribe`."""
    return principal.is_client and SUBSCRIBE_SCOPE in principal.scopes


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
    if may_subscribe(principal):
        if principal.agency_id is None:
            raise SubscribeForbidden("This client is bound to no agency, so it has no events")
        return Subscriber(principal.client_id, None, principal.agency_id, admin=False)
    raise SubscribeForbidden(
        f"Subscribing takes an administrator or an agency system's token with scope "
        f"{SUBSCRIBE_SCOPE!r}"
    )
