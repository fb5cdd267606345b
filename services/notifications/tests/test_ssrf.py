"""The SSRF guard refuses every hostile URL before any connection: private, loopback,
link-local and metadata addresses in every spelling, a name that resolves to a public and
then a private address, and a redirect (never followed). A local listener proves nothing
was contacted."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from notifications.webhooks.ssrf import UnsafeUrl, guarded_client, post, resolve

if TYPE_CHECKING:
    from tests.conftest import Listener

# What the fake DNS answers: the rebinding name gives a public address first.
ZONE = {
    "metadata.google.internal": ["169.254.169.254"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "inside.example": ["10.0.0.7"],
    "v6inside.example": ["fd12:3456::1"],
    "receiver.test": ["127.0.0.1"],
    "public.example": ["93.184.216.34"],
}


async def fake_resolver(host: str, port: int) -> list[str]:
    if host not in ZONE:
        raise OSError(f"{host}: no such name")
    return ZONE[host]


def hostile(port: int) -> list[str]:
    return [
        f"https://127.0.0.1:{port}/",
        f"https://localhost:{port}/",
        f"https://[::1]:{port}/",
        f"https://[::ffff:127.0.0.1]:{port}/",
        f"https://[::ffff:7f00:1]:{port}/",
        f"https://[::127.0.0.1]:{port}/",
        f"https://[64:ff9b::7f00:1]:{port}/",
        f"https://[2002:7f00:1::]:{port}/",
        f"https://2130706433:{port}/",
        f"https://0177.0.0.1:{port}/",
        f"https://0x7f.0.0.1:{port}/",
        f"https://0x7f000001:{port}/",
        f"https://017700000001:{port}/",
        f"https://127.1:{port}/",
        f"http://127.0.0.1:{port}/",
        f"https://rebind.example:{port}/",
        "https://10.0.0.1/",
        "https://172.16.5.4/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/latest/meta-data/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://[fe80::1]/",
        "https://[fc00::1]/",
        "https://[fd00:ec2::254]/",
        "https://v6inside.example/",
        "https://inside.example/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://0.1.2.3/",
        "https://[::]/",
        "https://224.0.0.1/",
        "https://[ff02::1]/",
        "https://192.0.2.10/",
        "https://198.51.100.7/",
        "https://[2001:db8::1]/",
        "https://240.0.0.1/",
        "https://255.255.255.255/",
        "https://nowhere.example/",
        "https://user:pw@public.example/",
        "ftp://public.example/",
        "file:///etc/passwd",
        "gopher://public.example/",
        "http://public.example/",
    ]


async def test_every_hostile_url_is_refused_and_nothing_is_contacted(
    listener: Listener,
) -> None:
    refused = 0
    urls = hostile(listener.port)
    async with guarded_client(connect_timeout=1, read_timeout=1) as client:
        for url in urls:
            try:
                target = await resolve(url, allow_http_loopback=False, resolver=fake_resolver)
            except UnsafeUrl:
                refused += 1
                continue
            await post(client, target, {}, b"{}")  # pragma: no cover - the failure shown below
    assert refused == len(urls)
    assert listener.connections == 0


async def test_ambiguous_numbers_and_private_names_stay_refused_where_loopback_is_allowed(
    listener: Listener,
) -> None:
    """The demo's loopback allowance is for loopback only, spelled plainly, over http."""
    urls = [
        f"http://2130706433:{listener.port}/",
        f"http://0177.0.0.1:{listener.port}/",
        f"http://rebind.example:{listener.port}/",
        "http://inside.example/",
        "http://169.254.169.254/",
        "https://metadata.google.internal/",
        "https://[::ffff:10.0.0.1]/",
    ]
    for url in urls:
        with pytest.raises(UnsafeUrl):
            await resolve(url, allow_http_loopback=True, resolver=fake_resolver)
    assert listener.connections == 0


async def test_a_public_name_resolves_once_to_the_address_then_used(listener: Listener) -> None:
    target = await resolve(
        "https://public.example/hook", allow_http_loopback=False, resolver=fake_resolver
    )
    assert (target.host, target.address) == ("public.example", "93.184.216.34")


async def test_the_checked_address_is_called_by_name_and_a_redirect_is_not_followed(
    listener: Listener,
) -> None:
    """`receiver.test` exists only in the fake DNS: reaching the listener shows the request
    went to the checked address, not through a second lookup; its 302 comes back as is."""
    target = await resolve(
        f"http://receiver.test:{listener.port}/hook",
        allow_http_loopback=True,
        resolver=fake_resolver,
    )
    async with guarded_client(connect_timeout=1, read_timeout=1) as client:
        answer = await post(client, target, {"content-type": "application/json"}, b"{}")
    assert answer.status == 302
    assert listener.connections == 1
    assert f"host: receiver.test:{listener.port}".encode() in listener.heads[0].lower()
