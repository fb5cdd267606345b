"""CORS at the edge: which browser origins may call the API, and the preflight answer.

An `Origin` that is neither the gateway's own nor listed in `CORS_ORIGINS` is
refused outright (403) rather than answered without CORS headers: the request
would still reach a service, and a refused one costs nothing further.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import Send

from gateway.errors import OriginNotAllowed
from gateway.responses import Headers
from gateway.settings import GatewaySettings

CORS_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
CORS_HEADERS = (
    b"authorization, content-type, accept, accept-language, idempotency-key, if-match,"
    b" if-none-match, x-request-id"
)
CORS_EXPOSE = b"x-request-id, retry-after, location, etag, www-authenticate"


class Cors:
    def __init__(self, settings: GatewaySettings) -> None:
        self.origins = frozenset(settings.cors_origins)
        public = urlsplit(settings.public_url)
        self.public_origin = f"{public.scheme}://{public.netloc}"
        self.max_age = str(settings.cors_max_age).encode()
        # Answers differ by Origin (the allow-origin header), so caches must key on it.
        self.always: Headers = [(b"vary", b"origin")] if settings.cors_origins else []

    def check(self, origin: str, scheme: str, host: bytes | None) -> Headers:
        """The headers an answer to `origin` carries; OriginNotAllowed if it may not call."""
        if self._same_origin(origin, scheme, host):
            return []
        if origin not in self.origins:
            raise OriginNotAllowed(
                message_key="error.origin-not-allowed", params={"origin": origin}
            )
        return [
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-expose-headers", CORS_EXPOSE),
        ]

    def _same_origin(self, origin: str, scheme: str, host: bytes | None) -> bool:
        if origin == self.public_origin:
            return True
        # A same-origin request (the login form posting back) names our own host.
        return host is not None and origin == f"{scheme}://{host.decode('latin-1')}"

    async def preflight(self, reply: Send) -> None:
        headers = [
            (b"access-control-allow-methods", CORS_METHODS),
            (b"access-control-allow-headers", CORS_HEADERS),
            (b"access-control-max-age", self.max_age),
        ]
        await reply({"type": "http.response.start", "status": 204, "headers": headers})
        await reply({"type": "http.response.body", "body": b""})
