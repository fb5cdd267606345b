"""Both document stores, PostgreSQL and S3 (a real `rclone serve s3`), pass the same
tests: byte-identical round trips from 0 to many chunks, the SHA-256 taken on the way in,
ranges, the size limit at the first byte past it, an integrity alarm instead of
corrupted bytes, and delete."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import AsyncIterator

import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_shared.db import make_engine
from portal_testing.documents_stores import Backend, open_backend
from service_requests.documents.errors import DocumentIntegrityError, DocumentTooLarge
from service_requests.documents.storage import (
    ByteRange,
    DocumentStore,
    StoredObject,
    new_storage_key,
)
from service_requests.settings import RequestsSettings

KIB = 1024
MIB = 1024 * KIB
CHUNK = 256 * KIB
PART = 5 * MIB
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
async def engine(settings: RequestsSettings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(params=["postgres", "s3"])
async def backend(request: pytest.FixtureRequest, engine: AsyncEngine) -> AsyncIterator[Backend]:
    s3 = request.getfixturevalue("s3_server") if request.param == "s3" else None
    async with open_backend(request.param, engine, s3) as backend:
        yield backend


def _bytes(size: int, seed: int = 18) -> bytes:
    return random.Random(seed).randbytes(size)


async def _pieces(data: bytes, size: int = 64 * KIB + 1) -> AsyncIterator[bytes]:
    # Pieces that fit neither chunk nor part boundaries, as a multipart parser gives them.
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def _get(store: DocumentStore, stored: StoredObject, rng: ByteRange | None = None) -> bytes:
    return b"".join([piece async for piece in await store.open(stored, rng)])


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17, PART - 1, PART, PART + 1, 2 * PART + 3],
)
async def test_a_document_comes_back_byte_identical_with_its_sha256(
    backend: Backend, size: int
) -> None:
    data = _bytes(size)
    stored = await backend.store.put(_pieces(data), max_size=11 * MIB)
    assert stored.size == size
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert UUID4.match(stored.key)
    assert stored.backend == backend.store.backend
    assert await _get(backend.store, stored) == data


async def test_storage_names_are_random_and_never_reused(backend: Backend) -> None:
    data = b"%PDF-1.4 same bytes"
    first = await backend.store.put(_pieces(data), max_size=MIB)
    second = await backend.store.put(_pieces(data), max_size=MIB)
    assert first.key != second.key
    assert first.sha256 == second.sha256


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 0),
        (10, 99),
        (CHUNK - 5, CHUNK + 5),
        (CHUNK, 2 * CHUNK - 1),
        (PART - 3, PART + 3),
        (PART + 100, None),
        (0, None),
        (2 * CHUNK, 10 * MIB),  # past the end: up to the last byte, as HTTP ranges are
    ],
)
async def test_ranges_return_exactly_the_bytes_asked_for(
    backend: Backend, start: int, end: int | None
) -> None:
    data = _bytes(PART + 300 * KIB, seed=7)
    stored = await backend.store.put(_pieces(data), max_size=10 * MIB)
    stop = len(data) if end is None else min(end + 1, len(data))
    assert await _get(backend.store, stored, ByteRange(start, end)) == data[start:stop]


async def test_a_range_outside_the_document_is_refused(backend: Backend) -> None:
    stored = await backend.store.put(_pieces(b"0123456789"), max_size=MIB)
    with pytest.raises(ValueError, match="outside"):
        await backend.store.open(stored, ByteRange(10, 20))
    with pytest.raises(ValueError, match="outside"):
        await backend.store.open(stored, ByteRange(5, 2))


async def test_the_size_limit_holds_to_the_byte(backend: Backend) -> None:
    data = _bytes(CHUNK + 10)
    stored = await backend.store.put(_pieces(data), max_size=len(data))
    assert await _get(backend.store, stored) == data


async def test_one_byte_past_the_limit_is_413_and_reading_stops_there(backend: Backend) -> None:
    limit = 3 * CHUNK
    read: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            read.append(1)
            yield b"x" * KIB

    with pytest.raises(DocumentTooLarge) as caught:
        await backend.store.put(endless(), max_size=limit)
    assert caught.value.status == 413
    # The piece that crossed the limit was the last one taken from the stream.
    assert len(read) == limit // KIB + 1


@pytest.mark.parametrize("too_big", [True, False], ids=["past-the-limit", "client-gone"])
async def test_nothing_is_left_of_an_upload_refused_or_broken_midway(
    backend: Backend, too_big: bool
) -> None:
    key = new_storage_key()

    async def breaking() -> AsyncIterator[bytes]:
        # More than one chunk and one part are written before the failure.
        yield _bytes(PART + CHUNK)
        if not too_big:
            raise ConnectionResetError("the client went away")
        yield b"x"

    with pytest.raises((DocumentTooLarge, ConnectionResetError)):
        await backend.store.put(breaking(), max_size=PART + CHUNK, key=key)
    stored = StoredObject(backend.store.backend, key, 1, hashlib.sha256(b"x").hexdigest())
    with pytest.raises(DocumentIntegrityError):
        await backend.store.open(stored)


@pytest.mark.parametrize("where", [0, CHUNK + 3, PART + CHUNK - 1])
async def test_a_corrupted_document_is_never_sent_and_raises_the_alarm(
    backend: Backend, where: int
) -> None:
    data = _bytes(PART + CHUNK, seed=3)
    stored = await backend.store.put(_pieces(data), max_size=10 * MIB)
    await backend.corrupt(stored, where, bytes([data[where] ^ 0xFF]))
    with structlog.testing.capture_logs() as logs, pytest.raises(DocumentIntegrityError):
        await backend.store.open(stored)
    # Ranges that miss the damaged byte are refused too: the whole document is suspect.
    with pytest.raises(DocumentIntegrityError):
        await backend.store.open(stored, ByteRange(0, 0) if where else ByteRange(1, 1))
    alarms = [entry for entry in logs if entry["event"] == "document_integrity_alarm"]
    assert alarms
    assert alarms[0]["storage_key"] == stored.key
    assert alarms[0]["log_level"] == "error"


async def test_bytes_appended_to_a_stored_document_are_an_integrity_failure(
    backend: Backend,
) -> None:
    data = _bytes(CHUNK)
    stored = await backend.store.put(_pieces(data), max_size=MIB)
    await backend.corrupt(stored, len(data), b"<script>")
    with pytest.raises(DocumentIntegrityError):
        await backend.store.open(stored)


async def test_a_deleted_document_is_gone_and_deleting_again_is_harmless(
    backend: Backend,
) -> None:
    data = _bytes(CHUNK * 2)
    stored = await backend.store.put(_pieces(data), max_size=MIB)
    await backend.store.delete(stored.key)
    with pytest.raises(DocumentIntegrityError):
        await backend.store.open(stored)
    await backend.store.delete(stored.key)
