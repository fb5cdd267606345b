"""Reading X-Forwarded-For under TRUSTED_PROXIES: the pure rule, case by case."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.addresses import ClientAddresses
from gateway.settings import GatewaySettings

PODS = "10.244.0.0/16"


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # No proxy is trusted from this peer: the header is not even read.
        ("203.0.113.9", b"10.244.1.1", "203.0.113.9"),
        # The ingress forwards a client.
        ("10.244.1.5", b"198.51.100.7", "198.51.100.7"),
        # A spoofed leftmost entry is never reached.
        ("10.244.1.5", b"6.6.6.6, 198.51.100.7", "198.51.100.7"),
        # Two trusted hops, then the client.
        ("10.244.1.5", b"6.6.6.6, 198.51.100.7, 10.244.2.2", "198.51.100.7"),
        # Junk where an address should be: the last hop known for sure.
        ("10.244.1.5", b"198.51.100.7, not-an-address", "10.244.1.5"),
        # Every hop is ours: the leftmost, an internal caller.
        ("10.244.1.5", b"10.244.3.3", "10.244.3.3"),
        # IPv6 clients, written the way proxies write them.
        ("10.244.1.5", b"2001:db8::1", "2001:db8::1"),
        # A trusted peer that sent no header is the client itself.
        ("10.244.1.5", b"", "10.244.1.5"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str, forwarded_for: bytes, client: str
) -> None:
    addresses = ClientAddresses([PODS], ["127.0.0.0/8"])
    assert addresses.client(peer, forwarded_for) == client


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    addresses = ClientAddresses([], ["127.0.0.0/8"])
    assert addresses.client("127.0.0.9", b"10.0.0.1") == "127.0.0.9"
    assert addresses.is_internal("127.0.0.9")
    assert not addresses.is_internal("10.0.0.1")
    assert not addresses.is_internal("unknown")


def test_a_network_that_is_not_one_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="does not appear to be an IPv4 or IPv6 network"):
        GatewaySettings(trusted_proxies=("10.244.0.0/33",))
