"""The SSRF guard: which URLs the portal will call at all.

`check_url` is the syntactic gate (scheme, host, no credentials), applied when a
subscription is made and again before every delivery.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})


class UnsafeUrl(ValueError):
    """A URL the portal refuses to call."""


def _is_loopback_host(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http_loopback: bool) -> None:
    """Refuse a URL that is not `https` (or, where allowed, `http` to loopback)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a URL: {exc}") from exc
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL carries credentials")
    if port == 0:
        raise UnsafeUrl("port 0")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and allow_http_loopback and _is_loopback_host(host):
        return
    raise UnsafeUrl("only https URLs are called")
