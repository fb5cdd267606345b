"""Malware scanning with ClamAV's clamd, over its INSTREAM protocol (asyncio).

The protocol (clamd(8)): send `zINSTREAM\\0`, then the content as chunks, each a 4-byte
big-endian length and that many bytes, then a zero length; clamd answers one
NUL-terminated line: `stream: OK`, `stream: <signature> FOUND`, or `... ERROR` (for
instance `INSTREAM size limit exceeded`, when the content is longer than clamd's
StreamMaxLength). clamd may close the connection early on an error: what it answered
then is read and reported.

`ClamdScanner.session()` scans while a document streams in (feed each piece, then
`result()`), so the upload is read once; `scan(stream)` is the same for content already
at hand. Every failure to get an answer (refused connection, timeout, garbled reply) is
a `ScanVerdict.ERROR`, never `CLEAN`: the caller refuses or retries, it does not pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import struct
from collections.abc import AsyncIterable
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import structlog

log = structlog.get_logger(__name__)

# clamd's default StreamMaxLength is 25 MB; what one INSTREAM chunk may carry is bounded
# by its buffer, so large pieces are split.
MAX_CHUNK_BYTES = 64 * 1024


class ScanVerdict(enum.StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    ERROR = "error"


@dataclass(frozen=True)
class ScanResult:
    verdict: ScanVerdict
    # The signature's name when infected; clamd's or our reason when an error.
    detail: str | None = None

    @property
    def clean(self) -> bool:
        return self.verdict is ScanVerdict.CLEAN


def parse_clamd_url(url: str) -> tuple[str, int]:
    """`tcp://host:port` (a bare `host:port` too) -> (host, port)."""
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise ValueError(f"CLAMD_URL must be tcp://host:port, not {url!r}")
    return parts.hostname, parts.port


def parse_reply(reply: bytes) -> ScanResult:
    text = reply.rstrip(b"\0\n").decode("utf-8", "replace").strip()
    # Replies are prefixed with the stream's name (`stream: ...`).
    _, _, body = text.partition(": ")
    body = body or text
    if body == "OK":
        return ScanResult(ScanVerdict.CLEAN)
    if body.endswith(" FOUND"):
        return ScanResult(ScanVerdict.INFECTED, body.removesuffix(" FOUND"))
    return ScanResult(ScanVerdict.ERROR, body or "empty reply")


class ScanSession:
    """One INSTREAM conversation: `feed()` pieces in order, then `result()` once.

    An async context manager: leaving it closes the connection (and, after an error,
    the result is ERROR whatever was fed).
    """

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._failure: str | None = None

    async def __aenter__(self) -> ScanSession:
        try:
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                self._writer.write(b"zINSTREAM\0")
                await self._writer.drain()
        except (OSError, TimeoutError) as exc:
            self._fail(f"cannot reach clamd: {exc!r}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    def _fail(self, reason: str) -> None:
        if self._failure is None:
            self._failure = reason
            log.warning("clamd_scan_failed", reason=reason, host=self.host, port=self.port)

    async def feed(self, piece: bytes) -> None:
        if self._failure is not None or self._writer is None:
            return
        try:
            async with asyncio.timeout(self.timeout):
                for offset in range(0, len(piece), MAX_CHUNK_BYTES):
                    chunk = piece[offset : offset + MAX_CHUNK_BYTES]
                    self._writer.write(struct.pack(">I", len(chunk)) + chunk)
                    await self._writer.drain()
        except (OSError, TimeoutError) as exc:
            # clamd may have closed early (a size limit): its reply says why.
            self._fail(f"clamd stopped reading: {exc!r}")

    async def result(self) -> ScanResult:
        if self._writer is None or self._reader is None:
            return ScanResult(ScanVerdict.ERROR, self._failure or "not connected")
        try:
            async with asyncio.timeout(self.timeout):
                if self._failure is None:
                    self._writer.write(struct.pack(">I", 0))
                    await self._writer.drain()
                reply = await self._reader.readuntil(b"\0")
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self._fail(f"no answer from clamd: {exc!r}")
            return ScanResult(ScanVerdict.ERROR, self._failure)
        finally:
            await self._close()
        result = parse_reply(reply)
        if result.verdict is ScanVerdict.CLEAN and self._failure is not None:
            # Not everything reached clamd: "OK" would be about part of the content.
            return ScanResult(ScanVerdict.ERROR, self._failure)
        return result

    async def _close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class ClamdScanner:
    """A clamd at `tcp://host:port`; each scan is a connection of its own."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.host, self.port = parse_clamd_url(url)
        self.timeout = timeout

    def session(self) -> ScanSession:
        return ScanSession(self.host, self.port, self.timeout)

    async def scan(self, stream: AsyncIterable[bytes]) -> ScanResult:
        async with self.session() as session:
            async for piece in stream:
                await session.feed(piece)
            return await session.result()

    async def ping(self) -> bool:
        """Whether clamd answers (for readiness checks)."""
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                try:
                    writer.write(b"zPING\0")
                    await writer.drain()
                    return await reader.readuntil(b"\0") == b"PONG\0"
                finally:
                    writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return False
