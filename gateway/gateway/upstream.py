"""A small HTTP/1.1 keep-alive client for the services, built for the proxy's hot path.

Why not httpx or aiohttp: INFRA.md measured a FastAPI proxy keeping 14% (httpx)
and 49% (aiohttp) of the direct throughput; most of the loss is the client's
per-request machinery. Here a request is one write of a pre-built head, then
httptools parses the answer straight off the socket, and the body is handed on
chunk by chunk in both directions (nothing is buffered whole). Connections are
pooled per upstream, last-in first-out, so a warm connection is reused and
idle ones age out before the server's own keep-alive timeout closes them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools


class UpstreamError(Exception):
    """The upstream could not give an answer; subclasses say how."""


class UpstreamUnreachable(UpstreamError):
    """No connection could be opened: the service is down or not listening."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer within the route's timeout."""


class UpstreamProtocolError(UpstreamError):
    """The upstream closed the connection or sent something that is not HTTP/1.1."""


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    def usable(self, idle_timeout: float) -> bool:
        return (
            not self.reader.at_eof()
            and not self.writer.is_closing()
            and time.monotonic() - self.idle_since < idle_timeout
        )

    def close(self) -> None:
        self.writer.transport.abort()


class _Parse:
    """httptools callbacks: collects the head, and body pieces until they are taken."""

    __slots__ = ("body", "complete", "headers", "headers_done", "keep_alive", "parser")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.keep_alive = False
        self.body: list[bytes] = []
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        # Read now: llhttp resets its flags once the message is complete.
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class UpstreamResponse:
    """An answer whose head has arrived; `body()` streams the rest off the connection.

    Whoever gets one must call `release()` (idempotent) when done with it, body
    read or not, so the connection goes back to the pool or is closed.
    """

    __slots__ = (
        "_conn",
        "_finished",
        "_parser",
        "_pool",
        "_read_timeout",
        "_state",
        "headers",
        "status",
    )

    def __init__(
        self,
        pool: Pool,
        conn: _Connection,
        parser: httptools.HttpResponseParser,
        state: _Parse,
        read_timeout: float,
    ) -> None:
        self.status: int = parser.get_status_code()
        self.headers = state.headers
        self._pool = pool
        self._conn: _Connection | None = conn
        self._parser = parser
        self._state = state
        self._read_timeout = read_timeout
        self._finished = False

    def whole_body(self) -> bytes | None:
        """The whole body if it has already arrived (a small answer), else None."""
        if not self._state.complete:
            return None
        self._finished = True
        return b"".join(self._state.body)

    async def body(self) -> AsyncIterator[bytes]:
        state = self._state
        try:
            while True:
                if state.body:
                    pieces, state.body = state.body, []
                    for piece in pieces:
                        yield piece
                if state.complete:
                    break
                if self._conn is None:
                    raise UpstreamProtocolError("the answer was released before it was read")
                try:
                    async with asyncio.timeout(self._read_timeout):
                        data = await self._conn.reader.read(65536)
                except TimeoutError as exc:
                    raise UpstreamTimeout("the upstream stopped sending its answer") from exc
                if not data:
                    raise UpstreamProtocolError("the upstream closed the connection mid-answer")
                try:
                    self._parser.feed_data(data)
                except httptools.HttpParserError as exc:
                    raise UpstreamProtocolError(
                        f"the upstream's answer is not HTTP: {exc}"
                    ) from exc
            self._finished = True
        finally:
            self.release()

    def release(self) -> None:
        """Give the connection back if the answer was read whole and may be reused."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._finished and self._state.keep_alive:
            self._pool.put(conn)
        else:
            self._pool.discard(conn)


# Statuses and methods whose answer never has a body, whatever its headers say.
_NO_BODY_STATUS = frozenset({204, 304})


class Pool:
    """Keep-alive connections to one upstream (`http://host:port`)."""

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int,
        connect_timeout: float,
        idle_timeout: float,
    ) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)

    async def _acquire(self) -> tuple[_Connection, bool]:
        """A connection and whether it was reused (a reused one may have gone stale)."""
        await self._slots.acquire()
        try:
            while self._idle:
                conn = self._idle.pop()
                if conn.usable(self.idle_timeout):
                    return conn, True
                conn.close()
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except TimeoutError as exc:
                raise UpstreamUnreachable("connecting to the upstream timed out") from exc
            except OSError as exc:
                raise UpstreamUnreachable(f"the upstream refused the connection: {exc}") from exc
            return _Connection(reader, writer), False
        except BaseException:
            self._slots.release()
            raise

    def put(self, conn: _Connection) -> None:
        conn.idle_since = time.monotonic()
        self._idle.append(conn)
        self._slots.release()

    def discard(self, conn: _Connection) -> None:
        conn.close()
        self._slots.release()

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    async def request(
        self,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: AsyncIterator[bytes] | None,
        *,
        chunked: bool,
        answer_within: float,
    ) -> UpstreamResponse:
        """Send a request (streaming `body`); wait up to `answer_within` s for the head.

        `headers` must already carry the framing (`content-length`, or
        `transfer-encoding: chunked` when `chunked`). A request without a body
        that meets a stale pooled connection is retried once on a fresh one: the
        service cannot have seen it.
        """
        head = _head(method, target, headers)
        for attempt in (1, 2):
            conn, reused = await self._acquire()
            sent_body = False
            try:
                conn.writer.write(head)
                if body is not None:
                    sent_body = True
                    await _write_body(conn.writer, body, chunked=chunked)
                return await self._read_head(conn, method, answer_within)
            except UpstreamProtocolError:
                self.discard(conn)
                if attempt == 1 and reused and not sent_body:
                    continue
                raise
            except (ConnectionError, OSError) as exc:
                self.discard(conn)
                if attempt == 1 and reused and not sent_body:
                    continue
                raise UpstreamProtocolError(f"the connection to the upstream broke: {exc}") from exc
            except BaseException:
                self.discard(conn)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_head(
        self, conn: _Connection, method: str, answer_within: float
    ) -> UpstreamResponse:
        state = _Parse()
        parser = state.parser
        try:
            async with asyncio.timeout(answer_within):
                while not state.headers_done:
                    data = await conn.reader.read(65536)
                    if not data:
                        raise UpstreamProtocolError("the upstream closed the connection")
                    parser.feed_data(data)
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"the upstream did not answer within {answer_within:g} s"
            ) from exc
        except httptools.HttpParserError as exc:
            raise UpstreamProtocolError(f"the upstream's answer is not HTTP: {exc}") from exc
        if method == "HEAD" or parser.get_status_code() in _NO_BODY_STATUS:
            # httptools cannot be told the request was HEAD; the message ends here.
            state.complete = True
            state.body.clear()
        return UpstreamResponse(self, conn, parser, state, answer_within)


def _head(method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    parts = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        parts += [name, b": ", value, b"\r\n"]
    parts.append(b"\r\n")
    return b"".join(parts)


async def _write_body(
    writer: asyncio.StreamWriter, body: AsyncIterator[bytes], *, chunked: bool
) -> None:
    async for chunk in body:
        if not chunk:
            continue
        if chunked:
            writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        else:
            writer.write(chunk)
        # Wait for the socket to take it, so a fast client cannot fill our memory.
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")
