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
import importlib.util
import ipaddress
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from portal_shared.i18n import Message

# httpcore asks `import sniffio` which async library runs, several times per request, and
# falls back to asyncio when it is absent (it is: anyio 4.16 no longer needs it). A failed
# import is not remembered, so each ask searched every folder on sys.path: ~10% of the
# delivery worker's CPU. None in sys.modules makes the same ImportError immediate.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the name stands for (tests inject a fake one).
Resolver = Callable[[str, int], Awaitable[list[str]]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class UnsafeUrl(ValueError):
    """A URL the portal refuses to call; `reason` says why in any language (str(): English,
    as the delivery log and the service's log keep it)."""

    def __init__(self, key: str, **params: Any) -> None:
        self.reason = Message(f"ssrf.{key}", params)
        super().__init__(str(self.reason))


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


def _why(key: str, **params: Any) -> Message:
    return Message(f"ssrf.{key}", params)


def refusal(ip: IPAddress, *, allow_loopback: bool = False) -> Message | None:
    """Why the portal will not connect to `ip`, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return _why("teredo")
        inner = _embedded_ipv4(ip)
        if inner is not None:
            why = refusal(inner, allow_loopback=allow_loopback)
            return _why("ipv6-form", inner=str(inner), why=why) if why else None
        if ip in _UNIQUE_LOCAL:
            return _why("unique-local")
    if ip.is_loopback:
        return None if allow_loopback else _why("loopback")
    checks = (
        (ip.is_unspecified, "unspecified"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK, "this-network"),
        (ip.is_link_local, "link-local"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "cgnat"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not-public"),
    )
    return next((_why(key) for failed, key in checks if failed), None)


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
    raise UnsafeUrl("ambiguous-numeric", host=host)


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
        raise UnsafeUrl("not-a-url", error=str(exc)) from exc
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl("no-host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials")
    if parts.port == 0:
        raise UnsafeUrl("port-zero")
    if parts.scheme not in ("https", "http") or (
        parts.scheme == "http" and not allow_http_loopback
    ):
        raise UnsafeUrl("https-only")
    literal = _literal(host)
    if literal is not None:
        why = refusal(literal, allow_loopback=allow_http_loopback)
        if why is None and parts.scheme == "http" and not literal.is_loopback:
            why = _why("http-loopback-only")
        if why:
            raise UnsafeUrl("host-is", host=host, why=why)
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
            raise UnsafeUrl("does-not-resolve", host=host, error=str(exc)) from exc
        if not addresses:
            raise UnsafeUrl("no-address", host=host)
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text.split("%")[0])
        except ValueError as exc:
            raise UnsafeUrl("not-an-address", host=host) from exc
        why = refusal(ip, allow_loopback=allow_http_loopback)
        if why is None and parsed.scheme == "http" and not ip.is_loopback:
            why = _why("http-loopback-only")
        if why:
            raise UnsafeUrl("resolves-to", host=host, ip=str(ip), why=why)
    return Target(parsed, host, addresses[0].split("%")[0])


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered, as much of it as was read."""

    status: int
    headers: httpx.Headers
    body: bytes
    seconds: float


def guarded_client(
    *,
    connect_timeout: float,
    read_timeout: float,
    connections: int = 100,
    tls: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """The HTTP client deliveries use: no redirects, no proxies from the environment; at
    most `connections` open at once, all kept alive (the limits are the same, so that
    httpcore's pool never queues a request: its queue is scanned against every connection
    on each request, quadratic at a round's 200 requests); `tls` shares one verifying
    context (making one loads the CA bundle, ~30 ms)."""
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=timeout,
        limits=limits,
        verify=tls if tls is not None else True,
    )


@dataclass
class _Host:
    client: httpx.AsyncClient
    gate: asyncio.Semaphore
    busy: int = 0
    used: float = 0.0


class Clients:
    """The delivery worker's HTTP clients, kept between rounds (a busy endpoint's
    connections are reused), one per host name: `post` rewrites the URL to the checked
    address, by which the pool keys its connections, so one pool for every name would send
    a name's request over a TLS connection verified for another name at the same address.

    At most `at_once` requests are in flight, and at most `per_host` to one host (a request
    waiting for its host holds no place of the others), each on a connection of its own:
    httpcore's pool checks every connection it holds on each request (a poll() each), so
    more connections than an endpoint needs cost CPU on every delivery (a third of the
    worker's time with 32 to one receiver; 8 serve it as fast). A client unused for
    `idle_seconds` is closed."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        per_host: int,
        at_once: int,
        idle_seconds: float = 60.0,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._per_host = per_host
        self._at_once = asyncio.Semaphore(at_once)
        self._tls = httpx.create_ssl_context()
        self._idle_seconds = idle_seconds
        self._hosts: dict[str, _Host] = {}

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[httpx.AsyncClient]:
        """The client for `host` (a name, or a literal address), once one of its
        `per_host` places, then one of the `at_once`, is free."""
        entry = self._hosts.get(host)
        if entry is None:
            client = guarded_client(
                connect_timeout=self._connect_timeout,
                read_timeout=self._read_timeout,
                connections=self._per_host,
                tls=self._tls,
            )
            entry = self._hosts[host] = _Host(client, asyncio.Semaphore(self._per_host))
        entry.busy += 1
        try:
            async with entry.gate, self._at_once:
                yield entry.client
        finally:
            entry.busy -= 1
            entry.used = time.monotonic()

    async def close_idle(self) -> None:
        cutoff = time.monotonic() - self._idle_seconds
        idle = [h for h, e in self._hosts.items() if not e.busy and e.used < cutoff]
        for host in idle:
            await self._hosts.pop(host).client.aclose()

    async def aclose(self) -> None:
        hosts, self._hosts = self._hosts, {}
        for entry in hosts.values():
            await entry.client.aclose()


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
