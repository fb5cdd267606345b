"""What the gateway itself answers with: whole bodies, JSON, problems, and the edge headers.

Problems use the services' own builder (`portal_shared.errors.problem_body`),
so a refusal at the edge reads exactly like one from a service. The security
headers are the edge's policy for the whole origin: added to every answer
here, and a service's own copies are dropped on the way out (`proxy.py`), so
each is sent once (a browser may ignore an X-Frame-Options it finds twice).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Send

from gateway.settings import GatewaySettings
from portal_shared.errors import PROBLEM_JSON, AppError, language_headers, problem_body

Headers = list[tuple[bytes, bytes]]

CSP_STRICT = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
CSP_HTML = (b"content-security-policy", b"frame-ancestors 'none'")
PROBLEM_TYPE = (b"content-type", PROBLEM_JSON.encode())


def security_headers(settings: GatewaySettings) -> Headers:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if settings.hsts:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


async def send_whole(send: Send, status: int, headers: Headers, body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    if not any(name == b"content-security-policy" for name, _ in headers):
        headers.append(CSP_STRICT)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any) -> None:
    await send_whole(send, status, [(b"content-type", b"application/json")], orjson.dumps(payload))


async def send_problem(send: Send, exc: AppError, instance: str, language: str = "kk") -> None:
    """`exc` in `language` (portal_shared.i18n.negotiate of the caller's Accept-Language)."""
    body = problem_body(
        exc.status,
        exc.title_in(language),
        exc.detail_in(language),
        type_uri=exc.type_uri(),
        instance=instance,
        **exc.extra_in(language),
    )
    named = language_headers(language, exc.headers)
    headers = [PROBLEM_TYPE, *((k.lower().encode(), v.encode()) for k, v in named.items())]
    await send_whole(send, exc.status, headers, body)
