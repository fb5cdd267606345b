"""Where documents' bytes live: one streaming interface, two backends.

`DocumentStore.put(stream)` writes a document as it arrives and returns a
`StoredObject`: a random storage key (uuid4, never derived from the file name), the size
and the SHA-256, both computed on the way in. Past `max_size` it stops at the first
piece that crosses the limit, removes what it wrote and raises `DocumentTooLarge` (413).

`DocumentStore.open(stored, byte_range)` is awaited before anything is sent: it checks the
stored bytes against the SHA-256 and size taken when they arrived, and only then returns
an iterator over the requested bytes. So a corrupted document is answered with a problem
(`DocumentIntegrityError`, logged as an integrity alarm) and none of its bytes leave the
service. The check is a first streaming pass over the whole object (memory: one chunk),
the send a second pass: twice the reads, in exchange for one design that holds for both
backends, for ranges, and for a response whose status line must be decided before the
first byte. Objects are written once under a fresh key and never rewritten, so the two
passes read the same bytes; the second pass of a whole-object read is hashed again all
the same, holding back its last piece until the hash matches, so a difference there
aborts the stream short of its Content-Length (and raises the alarm) rather than finish it.

Backends: `postgres_store.PostgresStore` (the requests database's `document_chunks`) and
`s3_store.S3Store` (any S3-compatible server); `open_store(settings, engine)` picks one.
"""

from __future__ import annotations

import hashlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import ClassVar

import structlog

from service_requests.documents.errors import DocumentIntegrityError, DocumentTooLarge

log = structlog.get_logger(__name__)


def new_storage_key() -> str:
    """A random storage name: nothing about the file or its owner can be read from it."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class StoredObject:
    """What a document's metadata row keeps about its bytes."""

    backend: str
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end` inclusive (HTTP's convention); `end` None is to the end."""

    start: int = 0
    end: int | None = None

    def resolve(self, size: int) -> tuple[int, int]:
        """The half-open [start, stop) within an object of `size` bytes."""
        stop = size if self.end is None else min(self.end + 1, size)
        if self.start < 0 or self.start > stop or (self.start == stop and size > 0):
            raise ValueError(f"range {self.start}-{self.end} is outside 0-{size - 1}")
        return self.start, stop


class SizeLimit:
    """Counts bytes and hashes them, refusing the first piece that goes past `max_size`."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.size = 0
        self._hash = hashlib.sha256()

    def take(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.max_size:
            raise DocumentTooLarge(
                message_key="error.document-too-large",
                params={"limit": self.max_size},
                max_size=self.max_size,
            )
        self._hash.update(piece)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


async def limited(stream: AsyncIterable[bytes], limit: SizeLimit) -> AsyncIterator[bytes]:
    """`stream`, counted and hashed by `limit` piece by piece, before any buffering."""
    async for piece in stream:
        limit.take(piece)
        yield piece


async def rechunk(stream: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """Pieces of exactly `size` bytes (the last may be shorter) from pieces of any size.

    One join per output piece; when the input pieces add up to `size` exactly (the usual
    case: 64 KiB pieces into 256 KiB chunks or 5 MiB parts) the slice is that join itself,
    not another copy.
    """
    parts: list[bytes] = []
    held = 0
    async for piece in stream:
        parts.append(piece)
        held += len(piece)
        if held < size:
            continue
        joined = b"".join(parts)
        offset = 0
        while held - offset >= size:
            yield joined[offset : offset + size]
            offset += size
        rest = joined[offset:]
        parts = [rest] if rest else []
        held = len(rest)
    if held:
        yield b"".join(parts)


def integrity_alarm(stored: StoredObject, reason: str, **facts: object) -> DocumentIntegrityError:
    """Log the alarm (an operator must look: a disk, a bucket or a person changed bytes)
    and return the error to raise."""
    log.error(
        "document_integrity_alarm",
        backend=stored.backend,
        storage_key=stored.key,
        expected_sha256=stored.sha256,
        expected_size=stored.size,
        reason=reason,
        **facts,
    )
    return DocumentIntegrityError(message_key="error.document-damaged")


class DocumentStore(ABC):
    """The bytes of documents, by storage key. Metadata is the caller's (`documents`)."""

    backend: ClassVar[str]

    @abstractmethod
    async def put(
        self, stream: AsyncIterable[bytes], *, max_size: int, key: str | None = None
    ) -> StoredObject:
        """Store `stream` under `key` (a new random one when None), hashing on the way.

        Raises DocumentTooLarge at the first piece past `max_size`; on any failure
        (including cancellation) nothing is left under the key.
        """

    @abstractmethod
    def _read(self, key: str, start: int, stop: int | None) -> AsyncIterator[bytes]:
        """The stored bytes [start, stop) in pieces, `stop` None to the end of what is
        stored (so bytes appended to an object are seen); raises KeyError when the key
        is absent."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; a key that is already gone is not an error."""

    async def aclose(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release the backend's connections."""

    async def open(
        self, stored: StoredObject, byte_range: ByteRange | None = None
    ) -> AsyncIterator[bytes]:
        """Verify the whole object, then return an iterator over `byte_range` of it.

        Raises DocumentIntegrityError (after logging the alarm) before returning when the
        bytes are missing or differ from `stored`; ValueError for a range outside it.
        """
        start, stop = (byte_range or ByteRange()).resolve(stored.size)
        await self.verify(stored)
        return self._send(stored, start, stop)

    async def verify(self, stored: StoredObject) -> None:
        digest = hashlib.sha256()
        size = 0
        try:
            async for piece in self._read(stored.key, 0, None):
                digest.update(piece)
                size += len(piece)
        except KeyError:
            raise integrity_alarm(stored, "missing") from None
        if size != stored.size or digest.hexdigest() != stored.sha256:
            raise integrity_alarm(stored, "mismatch", size=size, sha256=digest.hexdigest())

    async def _send(self, stored: StoredObject, start: int, stop: int) -> AsyncIterator[bytes]:
        # A whole-object read holds back its last piece until the hash of everything
        # matches, so even a change between the two passes never completes a response.
        whole = start == 0 and stop == stored.size
        digest = hashlib.sha256()
        held: bytes | None = None
        try:
            async for piece in self._read(stored.key, start, stop):
                if not whole:
                    yield piece
                    continue
                digest.update(piece)
                if held is not None:
                    yield held
                held = piece
        except KeyError:
            raise integrity_alarm(stored, "missing while sending") from None
        if whole and digest.hexdigest() != stored.sha256:
            raise integrity_alarm(stored, "changed while sending", sha256=digest.hexdigest())
        if held is not None:
            yield held
