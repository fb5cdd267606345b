"""The gateway's own failures, as typed problems rendered with the shared problem+json."""

from __future__ import annotations

from portal_shared.errors import AppError


class BadGateway(AppError):
    status = 502
    slug = "bad-gateway"
    title = "Bad gateway"


class UpstreamDown(AppError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


class LimitStoreDown(AppError):
    """A fail-closed limit whose shared store (Redis) cannot be reached."""

    status = 503
    slug = "limit-unavailable"
    title = "Service unavailable"


class GatewayTimeout(AppError):
    status = 504
    slug = "gateway-timeout"
    title = "Gateway timeout"


class OriginNotAllowed(AppError):
    status = 403
    slug = "origin-not-allowed"
    title = "Origin not allowed"


class RouteNotFound(AppError):
    status = 404
    slug = "not-found"
    title = "Not found"


class MethodNotAllowed(AppError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class InternalError(AppError):
    """A bug in the gateway: still answered as a problem, never as a bare 500 page."""

    status = 500
    slug = "internal-error"
    title = "Internal error"


class ClientGone(Exception):
    """The caller disconnected while its request body was being forwarded."""
