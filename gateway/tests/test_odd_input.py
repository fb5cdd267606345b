"""Odd requests get a problem (4xx) or the service's answer, never a 500 from the gateway."""

from __future__ import annotations

import asyncio

import pytest

from portal_testing.processes import Process

ODD = [
    b"GET /api/v1/services/%ff%fe%00 HTTP/1.1\r\nHost: gw\r\n\r\n",
    b"GET /api/v1/requests HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer\r\n\r\n",
    b"GET /api/v1/requests HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer \xff\xfe.a.b\r\n\r\n",
    b"GET /api/v1/requests HTTP/1.1\r\nHost: gw\r\nAuthorization: Digest x\r\n\r\n",
    b"GET /api/v1/services HTTP/1.1\r\nHost: gw\r\nOrigin: http://\xc3\xa9.kz\r\n\r\n",
    b"GET /api/v1/services HTTP/1.1\r\nHost: \xff\xfe\r\nOrigin: http://\xff\xfe\r\n\r\n",
    b"GET /api/v1/services HTTP/1.1\r\nHost: gw\r\nX-Request-ID: " + b"r" * 5000 + b"\r\n\r\n",
    b"GET /api/v1/services HTTP/1.1\r\nHost: gw\r\nX-Request-ID: \xff\x01\r\n\r\n",
    b"POST /api/v1/residents HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"DELETE /openapi.json HTTP/1.1\r\nHost: gw\r\n\r\n",
    b"OPTIONS /api/v1/services HTTP/1.1\r\nHost: gw\r\n\r\n",
    b"GET /docs?refresh=%zz HTTP/1.1\r\nHost: gw\r\n\r\n",
    b"GET /openapi.json?refresh=1&refresh=0 HTTP/1.1\r\nHost: gw\r\n\r\n",
    b"GET //api/v1/services HTTP/1.1\r\nHost: gw\r\n\r\n",
    b"GET /api/v1/services/../requests HTTP/1.1\r\nHost: gw\r\n\r\n",
    b"GET http://other.example/api/v1/services HTTP/1.1\r\nHost: gw\r\n\r\n",
]


@pytest.mark.parametrize("raw", ODD, ids=range(len(ODD)))
async def test_odd_request_is_never_a_500(edge: Process, raw: bytes) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", edge.port, local_addr=("127.0.0.41", 0)
    )
    writer.write(raw)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 ")
    status = int(status_line.split()[1])
    assert status < 500, status_line


async def test_dot_segments_cannot_hop_from_a_public_route(edge: Process) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    writer.write(b"GET /api/v1/services/%2E%2E/../requests HTTP/1.1\r\nHost: gw\r\n\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 400 ")
