"""Who is calling: the client address behind trusted proxies, and whether it is internal.

`X-Forwarded-For` is a list each proxy appends the address it saw to, so only
its right end is worth anything: the entries our own proxies (`TRUSTED_PROXIES`)
wrote. It is read right to left from the connection's peer, skipping trusted
hops; the first address that is not one of ours is the client, and nothing to
its left is believed (a caller can write anything there). From a peer that is
not a trusted proxy the header is ignored altogether.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

_Address = IPv4Address | IPv6Address


class Networks:
    """A set of CIDR networks; membership of an address given as text."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self._networks = tuple(ip_network(c, strict=False) for c in cidrs)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, address: _Address | None) -> bool:
        return address is not None and any(address in n for n in self._networks)


def parse_address(text: str) -> _Address | None:
    """The address in `text`, or None for anything else ("unknown", a host name, junk)."""
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


class ClientAddresses:
    """Resolves each request's client address under the gateway's trust settings."""

    def __init__(self, trusted_proxies: Iterable[str], internal_networks: Iterable[str]) -> None:
        self.trusted = Networks(trusted_proxies)
        self.internal = Networks(internal_networks)

    def peer_is_trusted(self, peer: str) -> bool:
        """Whether the connection comes from one of our proxies (its X-Forwarded-* count)."""
        return bool(self.trusted) and parse_address(peer) in self.trusted

    def client(self, peer: str, forwarded_for: bytes) -> str:
        """The client's address: the peer's, or the right one from a trusted chain."""
        if not self.trusted or not forwarded_for:
            # The common case at the edge: no proxy is trusted, nothing is parsed.
            return peer
        if parse_address(peer) not in self.trusted:
            return peer
        current = peer
        for entry in reversed(forwarded_for.decode("latin-1").split(",")):
            address = parse_address(entry)
            if address is None:
                # A trusted proxy wrote something that is not an address: stop at the
                # last hop that is known for sure rather than believe what lies beyond.
                return current
            current = str(address)
            if address not in self.trusted:
                return current
        # Every hop is ours (an internal caller through the ingress): the leftmost one.
        return current

    def is_internal(self, client: str) -> bool:
        return parse_address(client) in self.internal
