"""The Redis-protocol server the test plugin starts is a real one, on a port of its own."""

from __future__ import annotations

import asyncio


async def _command(url: str, *words: str) -> bytes:
    host, port = url.removeprefix("redis://").split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        frame = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        writer.write(frame.encode())
        await writer.drain()
        return await reader.readline()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_the_test_redis_answers_and_is_not_the_machines(redis_url: str) -> None:
    assert not redis_url.endswith(":6379/0")
    assert await _command(redis_url, "PING") == b"+PONG\r\n"
    assert await _command(redis_url, "INCRBY", "portal:test:counter", "2") == b":2\r\n"
