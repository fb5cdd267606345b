"""A small HTTP/1.1 keep-alive client for the services, built for the proxy's hot path.

Why not httpx or aiohttp: INFRA.md measured a FastAPI proxy keeping 14% (httpx)
and 49% (aiohttp) of the direct throughput; most of the loss is the client's
per-request machinery. Here a request is one write of a pre-built head, then
httptools parses the answer straight off the socket, and the body is handed on
chunk by chunk in both directions (only a small request body, which the proxy
holds whole so that it can be sent again, goes out in one piece). Connections are
pooled per upstream, last-in first-out, so a warm connection is reused and
idle ones age out before the server's own keep-alive timeout closes them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast
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


class _Connection(asyncio.Protocol):
    """One keep-alive connection; data is parsed as it arrives, into the current answer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.state: _Parse | None = None
        self.error: UpstreamError | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self._waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        self._drain: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a TCP connection always is

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state is None:
            # Bytes nobody asked for: this connection can no longer be trusted.
            self._fail(UpstreamProtocolError("the upstream sent data without a request"))
            return
        try:
            state.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"the upstream's answer is not HTTP: {exc}"))
            return
        if state.buffered > _READ_HIGH_WATER and self.transport is not None:
            # The caller reads slower than the service writes: let TCP push back.
            self.transport.pause_reading()
            self._read_paused = True
        self._wake()

    def eof_received(self) -> bool | None:
        self.closed = True
        self._wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # -- used by the pool ---------------------------------------------------------------

    def _fail(self, error: UpstreamError) -> None:
        self.error = error
        self.close()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self) -> None:
        """Until more of the answer has arrived, or the connection ended."""
        if self.error is not None:
            raise self.error
        if self.closed:
            raise UpstreamProtocolError("the upstream closed the connection")
        self._waiter = self.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def taken(self) -> None:
        """The caller has taken the buffered body pieces: reading may resume."""
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise UpstreamProtocolError("the upstream closed the connection")
        self.transport.write(data)

    async def drain(self) -> None:
        if self._write_paused and not self.closed:
            self._drain = self.loop.create_future()
            try:
                await self._drain
            finally:
                self._drain = None
        if self.closed:
            raise UpstreamProtocolError("the upstream closed the connection")

    def usable(self, idle_timeout: float) -> bool:
        return (
            not self.closed
            and self.error is None
            and self.transport is not None
            and not self.transport.is_closing()
            and time.monotonic() - self.idle_since < idle_timeout
        )

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


# Body bytes held for a slow caller before the upstream socket stops being read.
_READ_HIGH_WATER = 256 * 1024


class _Parse:
    """httptools callbacks: collects the head, and body pieces until they are taken."""

    __slots__ = (
        "begun",
        "body",
        "buffered",
        "complete",
        "headers",
        "headers_done",
        "keep_alive",
        "parser",
    )

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.keep_alive = False
        self.body: list[bytes] = []
        self.buffered = 0
        self.complete = False
        self.begun = False

    def on_message_begin(self) -> None:
        self.begun = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        # Read now: llhttp resets its flags once the message is complete.
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        self.complete = True


class UpstreamResponse:
    """An answer whose head has arrived; `body()` streams the rest off the connection.

    Whoever gets one must call `release()` (idempotent) when done with it, body
    read or not, so the connection goes back to the pool or is closed.
    """

    __slots__ = ("_conn", "_finished", "_pool", "_read_timeout", "_state", "headers", "status")

    def __init__(self, pool: Pool, conn: _Connection, state: _Parse, read_timeout: float) -> None:
        self.status: int = state.parser.get_status_code()
        self.headers = state.headers
        self._pool = pool
        self._conn: _Connection | None = conn
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
                    state.buffered = 0
                    if self._conn is not None:
                        self._conn.taken()
                    for piece in pieces:
                        yield piece
                    # More may have come in meanwhile (and reading may be paused).
                    continue
                if state.complete:
                    break
                if self._conn is None:
                    raise UpstreamProtocolError("the answer was released before it was read")
                try:
                    async with asyncio.timeout(self._read_timeout):
                        await self._conn.wait()
                except TimeoutError as exc:
                    raise UpstreamTimeout("the upstream stopped sending its answer") from exc
            self._finished = True
        finally:
            self.release()

    def release(self) -> None:
        """Give the connection back if the answer was read whole and may be reused."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        conn.state = None
        # Reused only after an answer read to its end that promised to keep the connection
        # (no `Connection: close`, not HTTP/1.0), and never after a 5xx: a server that
        # failed may be closing the connection it just answered on as keep-alive (uvicorn
        # does, after an unhandled exception), and the next request, body included, would
        # be sent into a closing socket. A fresh connection after a rare error costs little.
        if self._finished and self._state.keep_alive and self.status < 500 and conn.error is None:
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
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(self.connect_timeout):
                    _, conn = await loop.create_connection(
                        lambda: _Connection(loop), self.host, self.port
                    )
            except TimeoutError as exc:
                raise UpstreamUnreachable("connecting to the upstream timed out") from exc
            except OSError as exc:
                raise UpstreamUnreachable(f"the upstream refused the connection: {exc}") from exc
            return conn, False
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
        body: bytes | AsyncIterator[bytes] | None,
        *,
        chunked: bool,
        answer_within: float,
        idempotent: bool,
    ) -> UpstreamResponse:
        """Send a request; wait up to `answer_within` s for the head of the answer.

        `body` is held whole (bytes) or streamed (an iterator). `headers` must already
        carry the framing (`content-length`, or `transfer-encoding: chunked` when
        `chunked`).

        A pooled connection can still be dead: the service may have closed it while it
        sat idle (keep-alive timeout, shutdown) and the close not have arrived yet. A
        request on a reused connection is sent again, once, on a fresh one if none of
        it could be written, or if all of these hold: not one byte of an answer came
        back, the body (if any) can be sent again because it is held whole, and
        sending the request twice is harmless (`idempotent`: the method is, or an
        Idempotency-Key lets the service recognise the repeat). The last condition is
        RFC 9112 9.3.1.1: a dead connection does not prove the service never started a
        POST, so one without a key is answered 502 rather than perhaps done twice. The
        usual cause of such deaths, a connection the service closes right after an
        error, is avoided upstream of this: see `UpstreamResponse.release`.
        """
        head = _head(method, target, headers)
        whole = body if isinstance(body, bytes) else None
        stream = None if isinstance(body, bytes) else body
        for attempt in (1, 2):
            conn, reused = await self._acquire()
            sent = streamed = False
            state = _Parse()
            conn.state = state
            try:
                # Head and a small body in one write: one segment, one syscall.
                conn.write(head if whole is None else head + whole)
                sent = True
                if stream is not None:
                    streamed = True
                    await _write_body(conn, stream, chunked=chunked)
                return await self._read_head(conn, state, method, answer_within)
            except (UpstreamProtocolError, ConnectionError, OSError) as exc:
                self.discard(conn)
                # Nothing written: always safe. Written but unanswered: see the docstring.
                resend = not sent or (idempotent and not state.begun and not streamed)
                if attempt == 1 and reused and resend:
                    continue
                if isinstance(exc, UpstreamProtocolError):
                    raise
                raise UpstreamProtocolError(f"the connection to the upstream broke: {exc}") from exc
            except BaseException:
                self.discard(conn)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_head(
        self, conn: _Connection, state: _Parse, method: str, answer_within: float
    ) -> UpstreamResponse:
        try:
            async with asyncio.timeout(answer_within):
                while not state.headers_done:
                    await conn.wait()
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"the upstream did not answer within {answer_within:g} s"
            ) from exc
        if method == "HEAD" or state.parser.get_status_code() in _NO_BODY_STATUS:
            # httptools cannot be told the request was HEAD; the message ends here.
            state.complete = True
            state.body.clear()
        return UpstreamResponse(self, conn, state, answer_within)


def _head(method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    parts = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        parts += [name, b": ", value, b"\r\n"]
    parts.append(b"\r\n")
    return b"".join(parts)


async def _write_body(conn: _Connection, body: AsyncIterator[bytes], *, chunked: bool) -> None:
    async for chunk in body:
        if not chunk:
            continue
        if chunked:
            conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        else:
            conn.write(chunk)
        # Wait for the socket to take it, so a fast caller cannot fill our memory.
        await conn.drain()
    if chunked:
        conn.write(b"0\r\n\r\n")
