"""The SSRF guard, closed by construction: the portal calls only what it has checked.

- `check_url` is the syntactic gate (scheme, host, no credentials, no ambiguous numeric
  host, no literal address of a forbidden range), applied when a subscription is made.
- `resolve` resolves the host ONCE and refuses if ANY address is loopback, private,
  link-local (cloud metadata), CGNAT, multicast, unspecified, reserved, documentation,
  unique-local, or an IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4) of those.
- `post` connects to the checked address itself (the URL's host replaced by it, with the
  `Host` header and TLS SNI set to the name, so no second lookup can be steered elsewhere),
  follows no redirect, and reads at most a small cap of the answer.

`http` is callable only where `allow_http_loopback` is set (demo, tests), and then only
to addresses that are all loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the name stands for (tests inject a fake one).
Resolver = Callable[[str, int], Awaitable[list[str]]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class UnsafeUrl(ValueError):
    """A URL the portal refuses to call."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer for `host`, every address of it."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why the portal will not connect to `ip`, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return "a Teredo address"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            why = refusal(inner, allow_loopback=allow_loopback)
            return f"an IPv6 form of {inner} ({why})" if why else None
        if ip in _UNIQUE_LOCAL:
            return "a unique-local address"
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    checks = (
        (ip.is_unspecified, "the unspecified address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK, "in 0.0.0.0/8"),
        (ip.is_link_local, "a link-local address (cloud metadata lives there)"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "a CGNAT address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a public address"),
    )
    return next((why for failed, why in checks if failed), None)


def _literal(host: str) -> IPAddress | None:
    """The address a host names literally; UnsafeUrl for a non-canonical numeric form
    (2130706433, 0177.0.0.1, 0x7f.1) that resolvers read differently from people."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        socket.inet_aton(host)
    except OSError:
        return None
    raise UnsafeUrl(f"{host!r} is an address in an ambiguous numeric form")


@dataclass(frozen=True)
class Target:
    """A URL and the one address it was checked to stand for."""

    url: httpx.URL
    host: str
    address: str


def check_url(url: str, *, allow_http_loopback: bool) -> httpx.URL:
    """The URL, if it passes the syntactic gate; else UnsafeUrl."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsing the port raises for a bad one)
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise UnsafeUrl(f"not a URL: {exc}") from exc
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL carries credentials")
    if parts.port == 0:
        raise UnsafeUrl("port 0")
    if parts.scheme not in ("https", "http") or (
        parts.scheme == "http" and not allow_http_loopback
    ):
        raise UnsafeUrl("only https URLs are called")
    literal = _literal(host)
    if literal is not None:
        why = refusal(literal, allow_loopback=allow_http_loopback)
        if why is None and parts.scheme == "http" and not literal.is_loopback:
            why = "http goes to loopback only"
        if why:
            raise UnsafeUrl(f"{host} is {why}")
    return parsed


async def resolve(
    url: str, *, allow_http_loopback: bool, resolver: Resolver = system_resolver
) -> Target:
    """The URL's host resolved once and every address checked; the address to connect to."""
    parsed = check_url(url, allow_http_loopback=allow_http_loopback)
    host = parsed.host
    literal = _literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = await resolver(host, port)
        except OSError as exc:
            raise UnsafeUrl(f"{host} does not resolve: {exc}") from exc
        if not addresses:
            raise UnsafeUrl(f"{host} resolves to no address")
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text.split("%")[0])
        except ValueError as exc:
            raise UnsafeUrl(f"{host} resolves to something that is not an address") from exc
        why = refusal(ip, allow_loopback=allow_http_loopback)
        if why is None and parsed.scheme == "http" and not ip.is_loopback:
            why = "not loopback, and http goes to loopback only"
        if why:
            raise UnsafeUrl(f"{host} resolves to {ip}, {why}")
    return Target(parsed, host, addresses[0].split("%")[0])


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered, as much of it as was read."""

    status: int
    headers: httpx.Headers
    body: bytes
    seconds: float


def guarded_client(*, connect_timeout: float, read_timeout: float) -> httpx.AsyncClient:
    """The one HTTP client deliveries use: no redirects, no proxies from the environment."""
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=timeout)


async def post(
    client: httpx.AsyncClient,
    target: Target,
    headers: Mapping[str, str],
    body: bytes,
    *,
    cap: int = 4096,
) -> Answer:
    """POST `body` to the checked address of `target`; a 3xx is returned, never followed."""
    request = client.build_request(
        "POST",
        target.url.copy_with(host=target.address),
        headers={**headers, "Host": target.url.netloc.decode("ascii")},
        content=body,
        extensions={"sni_hostname": target.host},
    )
    started = time.perf_counter()
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        kept = bytearray()
        async for chunk in response.aiter_raw():
            kept += chunk[: cap - len(kept)]
            if len(kept) >= cap:
                break
    finally:
        await response.aclose()
    return Answer(
        response.status_code, response.headers, bytes(kept), time.perf_counter() - started
    )
