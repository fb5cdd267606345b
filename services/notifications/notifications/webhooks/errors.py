"""The webhooks' typed errors; the shared handler renders each as problem+json."""

from __future__ import annotations

from portal_shared.errors import Forbidden, NotFound, ValidationFailed


class SubscriptionNotFound(NotFound):
    slug = "subscription-not-found"
    title = "Subscription not found"


class SubscribeForbidden(Forbidden):
    """Neither an admin nor an agency system holding `events:subscribe`."""

    slug = "subscribe-forbidden"
    title = "Not allowed to subscribe"


class InvalidSubscription(ValidationFailed):
    """A URL the portal will not call, or a type pattern that matches no known event."""

    slug = "invalid-subscription"
    title = "Invalid subscription"


class DeliveryNotFound(NotFound):
    slug = "delivery-not-found"
    title = "Delivery not found"
