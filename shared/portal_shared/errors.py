"""RFC 9457 problem details: typed errors raised by use cases, rendered in one place.

Use cases raise `AppError` subclasses; `install_error_handlers` renders them,
FastAPI's validation errors, Starlette's HTTP errors, database outages and
anything unexpected as `application/problem+json`, never with a stack trace.

Each problem is in the caller's language (portal_shared.i18n: `Accept-Language`, Kazakh by
default) and says which in `Content-Language`: the title from the catalog by the error's
slug, the detail from the catalog by the `message_key` the error was raised with (raised with
neither key nor detail, the detail is the title). Every raise site in the services names a
key, so no caller reads English it did not ask for (tests/test_message_keys.py checks
it). Every problem carries `code`, the stable slug, and a validation problem lists
`errors: [{pointer, code, message, location}]`, a `Message` among them worded like the detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, cast

import asyncpg
import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from portal_shared.i18n import Message, negotiate, translate
from portal_shared.validation import validation_errors

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)


class AppError(Exception):
    """A failure the client can understand; subclasses set status, slug and title.

    `slug` is also the problem's stable `code`; `title` is the English title (the catalog's
    `title.<slug>` gives the others). Raise with `message_key` and `params` for a detail in
    the caller's language; `detail` is then the English text (and the log's)."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        message_key: str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        self.message_key = message_key
        self.params = dict(params or {})
        # Raised with neither, the problem's detail is its title, in the caller's language.
        self._titled = detail is None and message_key is None
        if detail is None:
            detail = translate("en", message_key, self.params) if message_key else self.title
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    @property
    def code(self) -> str:
        return self.slug

    @classmethod
    def type_uri(cls) -> str:
        return f"urn:baikonur-portal:problem:{cls.slug}"

    @classmethod
    def title_in(cls, language: str) -> str:
        return translate(language, f"title.{cls.slug}", default=cls.title)

    def detail_in(self, language: str) -> str:
        if self.message_key is None:
            return self.title_in(language) if self._titled else self.detail
        return translate(language, self.message_key, self.params, default=self.detail)

    def extra_in(self, language: str) -> dict[str, Any]:
        """The problem's further members in `language`: each `Message` among them (such as
        an `errors` entry's `message`) worded in it."""
        localized: dict[str, Any] = _localized(self.extra, language)
        return localized


def _localized(value: Any, language: str) -> Any:
    if isinstance(value, Message):
        return value.in_language(language)
    if isinstance(value, dict):
        return {k: _localized(v, language) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_localized(v, language) for v in value]
    return value


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


_URN = "urn:baikonur-portal:problem:"
# The code of a problem with no type of its own ("about:blank"), by status.
_STATUS_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    422: "validation-failed",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


def problem_code(status: int, type_uri: str) -> str:
    """The stable `code` of a problem: its type's slug, or one named by its status."""
    if type_uri.startswith(_URN):
        return type_uri[len(_URN) :]
    return _STATUS_CODES.get(status, "http-error")


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
    body["code"] = problem_code(status, type_uri)
    body.update(extra)
    return orjson.dumps(body)


def language_headers(language: str, headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """A problem's headers with the language it is written in, and that it depends on it."""
    out = dict(headers or {})
    out["Content-Language"] = language
    out["Vary"] = ", ".join(v for v in (out.get("Vary"), "Accept-Language") if v)
    return out


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_uri: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    language: str | None = None,
    **extra: Any,
) -> Response:
    body = problem_body(status, title, detail, type_uri=type_uri, instance=instance, **extra)
    if language is not None:
        headers = language_headers(language, headers)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _pointer_of(location: str) -> str:
    """`body.form_data.children[0].age` -> `/form_data/children/0/age`."""
    parts = location.replace("[", ".").replace("]", "").split(".")
    if parts and parts[0] == "body":
        parts = parts[1:]
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts if p)


def with_codes(extra: dict[str, Any], code: str) -> dict[str, Any]:
    """`extra` with each listed violation given a `code` and `pointer` if it has none,
    so errors raised with only a location and message still read as the contract says."""
    errors = extra.get("errors")
    if not isinstance(errors, list) or all(
        isinstance(e, dict) and "code" in e and "pointer" in e for e in errors
    ):
        return extra
    listed = []
    for entry in errors:
        if isinstance(entry, dict):
            entry = {**entry}
            entry.setdefault("code", code)
            if "pointer" not in entry and isinstance(entry.get("location"), str):
                entry["pointer"] = _pointer_of(entry["location"])
        listed.append(entry)
    return {**extra, "errors": listed}


def app_error_response(exc: AppError, language: str, instance: str | None) -> Response:
    return problem_response(
        exc.status,
        exc.title_in(language),
        exc.detail_in(language),
        type_uri=exc.type_uri(),
        instance=instance,
        headers=exc.headers,
        language=language,
        **with_codes(exc.extra_in(language), exc.slug),
    )


def request_language(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


async def _app_error(request: Request, exc: Exception) -> Response:
    return app_error_response(cast(AppError, exc), request_language(request), request.url.path)


async def _request_validation(request: Request, exc: Exception) -> Response:
    exc = cast(RequestValidationError, exc)
    language = request_language(request)
    errors = validation_errors(exc, language)
    summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
    return problem_response(
        422,
        ValidationFailed.title_in(language),
        translate(language, "error.validation-failed", {"summary": summary}),
        type_uri=ValidationFailed.type_uri(),
        instance=request.url.path,
        language=language,
        errors=errors,
    )


# Starlette's own answers (an unknown path, a method a route does not take), by status.
_HTTP_ERRORS = {
    404: ("not-found", "error.http-not-found"),
    405: ("method-not-allowed", "error.http-method-not-allowed"),
    401: ("unauthorized", None),
}


async def _http_error(request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)
    language = request_language(request)
    slug, key = _HTTP_ERRORS.get(exc.status_code, ("http-error", None))
    detail = exc.detail if isinstance(exc.detail, str) else "The request failed"
    if key is not None and detail == translate("en", key):
        detail = translate(language, key)
    else:
        # The framework's own words (FastAPI's, Starlette's) are English: another language
        # gets them inside a sentence of its own.
        detail = translate(language, "error.http-error", {"reason": detail})
    return problem_response(
        exc.status_code,
        translate(language, f"title.{slug}"),
        detail,
        instance=request.url.path,
        headers=dict(exc.headers or {}),
        language=language,
        code=slug,
    )


async def _integrity_error(request: Request, exc: Exception) -> Response:
    # Use cases check uniqueness first; this catches the race between two writers.
    log.info("integrity_conflict", error=str(getattr(exc, "orig", exc)).splitlines()[0])
    language = request_language(request)
    return problem_response(
        409,
        Conflict.title_in(language),
        translate(language, "error.write-conflict"),
        type_uri=Conflict.type_uri(),
        instance=request.url.path,
        language=language,
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
    # Class 53: the server is out of connections, memory or disk. Nothing the caller sent
    # is wrong, and a retry can succeed, so it is a 503 with Retry-After, not a 500.
    asyncpg.exceptions.InsufficientResourcesError,
    # Class 57: an operator or the server cancelled or ended the work (shutdown, restart,
    # a cancelled statement, a dropped database).
    asyncpg.exceptions.OperatorInterventionError,
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
    language = request_language(request)
    if is_database_outage(exc):
        log.warning("database_unavailable", error=type(exc).__name__)
        return problem_response(
            503,
            ServiceUnavailable.title_in(language),
            translate(language, "error.database-unavailable"),
            type_uri=ServiceUnavailable.type_uri(),
            instance=request.url.path,
            headers={"Retry-After": "2"},
            language=language,
        )
    log.exception("unhandled_error", path=request.url.path)
    return problem_response(
        500,
        translate(language, "title.internal-error"),
        translate(language, "error.service-internal"),
        instance=request.url.path,
        language=language,
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
