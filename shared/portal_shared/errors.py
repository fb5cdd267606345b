"""RFC 9457 problem details: typed errors raised by use cases, rendered in one place.

Use cases raise `AppError` subclasses; `install_error_handlers` renders them,
FastAPI's validation errors, Starlette's HTTP errors, database outages and
anything unexpected as `application/problem+json`, never with a stack trace.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import asyncpg
import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)


class AppError(Exception):
    """A failure the client can understand; subclasses set status, slug and title."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    @classmethod
    def type_uri(cls) -> str:
        return f"urn:baikonur-portal:problem:{cls.slug}"


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status = 401
    slug = "unauthorized"
    title = "Authentication required"


class Forbidden(AppError):
    status = 403
    slug = "forbidden"
    title = "Not allowed"


class NotFound(AppError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PreconditionFailed(AppError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class PreconditionRequired(AppError):
    status = 428
    slug = "precondition-required"
    title = "Precondition required"


class PayloadTooLarge(AppError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class ValidationFailed(AppError):
    """Input that parses but breaks a rule; `errors` lists every violation."""

    status = 422
    slug = "validation-failed"
    title = "Validation failed"


class TooManyRequests(AppError):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"


class ServiceUnavailable(AppError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


def problem_body(
    status: int,
    title: str,
    detail: str,
    *,
    type_uri: str = "about:blank",
    instance: str | None = None,
    **extra: Any,
) -> bytes:
    """The RFC 9457 document, encoded: the one builder for the services and the gateway."""
    body: dict[str, Any] = {"type": type_uri, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return orjson.dumps(body)


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_uri: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = problem_body(status, title, detail, type_uri=type_uri, instance=instance, **extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"location": _location(tuple(err.get("loc", ()))), "message": str(err.get("msg", ""))}
        for err in exc.errors()
    ]


async def _app_error(request: Request, exc: Exception) -> Response:
    exc = cast(AppError, exc)
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        type_uri=exc.type_uri(),
        instance=request.url.path,
        headers=exc.headers,
        **exc.extra,
    )


async def _request_validation(request: Request, exc: Exception) -> Response:
    exc = cast(RequestValidationError, exc)
    errors = validation_errors(exc)
    summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
    return problem_response(
        422,
        ValidationFailed.title,
        f"The request is not valid: {summary}",
        type_uri=ValidationFailed.type_uri(),
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)
    detail = exc.detail if isinstance(exc.detail, str) else "The request failed"
    titles = {404: "Not found", 405: "Method not allowed", 401: "Authentication required"}
    return problem_response(
        exc.status_code,
        titles.get(exc.status_code, "HTTP error"),
        detail,
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


async def _integrity_error(request: Request, exc: Exception) -> Response:
    # Use cases check uniqueness first; this catches the race between two writers.
    log.info("integrity_conflict", error=str(getattr(exc, "orig", exc)).splitlines()[0])
    return problem_response(
        409,
        Conflict.title,
        "The change conflicts with data written at the same time; retry the request",
        type_uri=Conflict.type_uri(),
        instance=request.url.path,
    )


# What asyncpg raises while a server shuts down, restarts or drops the connection;
# SQLAlchemy wraps them in a plain DBAPIError that it does not mark as a disconnect.
_ASYNCPG_OUTAGES = (
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.PostgresConnectionError,
    # A connection the server ended while it sat idle in a pool can still look open: its
    # next statement finds it stuck half-way ("cannot switch to state ...").
    asyncpg.exceptions.InternalClientError,
)


def is_database_outage(exc: BaseException) -> bool:
    """True for errors that mean the database is unreachable rather than the input is wrong."""
    seen: set[int] = set()
    current: BaseException | None = exc
    # The driver's own error is the wrapper's `orig`, or its explicit cause.
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (OperationalError, InterfaceError)):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (ConnectionError, TimeoutError, OSError, *_ASYNCPG_OUTAGES)):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


async def _unexpected(request: Request, exc: Exception) -> Response:
    if is_database_outage(exc):
        log.warning("database_unavailable", error=type(exc).__name__)
        return problem_response(
            503,
            ServiceUnavailable.title,
            "The service's database is not reachable; retry shortly",
            type_uri=ServiceUnavailable.type_uri(),
            instance=request.url.path,
            headers={"Retry-After": "2"},
        )
    log.exception("unhandled_error", path=request.url.path)
    return problem_response(
        500,
        "Internal error",
        "The service failed to handle the request; it has been logged",
        instance=request.url.path,
    )


async def _last_resort(request: Request, exc: Exception) -> Response:
    response = await _unexpected(request, exc)
    # Starlette answers this from ServerErrorMiddleware and then re-raises, and uvicorn
    # closes the connection once it has logged the error: say so in the answer, or a
    # keep-alive client (the gateway's pool) sends its next request into a closing socket.
    response.headers["Connection"] = "close"
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    # Driver and network errors are answered here as well as by the catch-all: Starlette
    # re-raises what the catch-all handled, and uvicorn then closes the keep-alive
    # connection under a client that may already be sending its next request on it.
    app.add_exception_handler(DBAPIError, _unexpected)
    # The same for asyncpg's own errors, where a service uses the driver directly.
    app.add_exception_handler(asyncpg.PostgresError, _unexpected)
    app.add_exception_handler(asyncpg.InterfaceError, _unexpected)
    app.add_exception_handler(asyncpg.exceptions.InternalClientError, _unexpected)
    app.add_exception_handler(OSError, _unexpected)
    app.add_exception_handler(Exception, _last_resort)


def problem_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the errors an endpoint declares."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        out[err.status] = {
            "description": err.title,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out
