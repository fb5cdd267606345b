"""The cleanup of documents' bytes, on both stores: an upload whose process died before
its row was written leaves nothing once the cleanup has run; a document never attached
is removed after its TTL, bytes and row; attached and recent ones stay."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_shared.db import make_engine
from portal_testing.documents_stores import Backend, open_backend
from service_requests.documents.errors import DocumentIntegrityError
from service_requests.documents.lifecycle import begin_upload, finish_upload, remove_stale
from service_requests.documents.storage import StoredObject
from service_requests.settings import RequestsSettings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(hours=24)


@pytest.fixture(scope="module")
async def engine(settings: RequestsSettings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(params=["postgres", "s3"])
async def backend(request: pytest.FixtureRequest, engine: AsyncEngine) -> AsyncIterator[Backend]:
    s3 = request.getfixturevalue("s3_server") if request.param == "s3" else None
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE document_uploads, documents, document_chunks, requests"))
    async with open_backend(request.param, engine, s3) as backend:
        yield backend


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _gone(backend: Backend, stored: StoredObject) -> bool:
    try:
        await backend.store.open(stored)
    except DocumentIntegrityError:
        return True
    return False


async def _upload(engine: AsyncEngine, backend: Backend, *, at: datetime) -> StoredObject:
    key = await begin_upload(engine, backend.store.backend, now=at)
    return await backend.store.put(_one(b"%PDF-1.4 bytes " + key.encode()), max_size=1024, key=key)


async def _row(
    engine: AsyncEngine, stored: StoredObject, *, at: datetime, request_id: uuid.UUID | None = None
) -> None:
    """The upload's documents row, written as the endpoint will: with the reservation's
    release in the same transaction."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO documents (id, owner_id, filename, content_type, size, sha256,"
                " status, storage_backend, storage_key, created_at, attached_request_id,"
                " attached_code) VALUES (:id, :owner, 'scan.pdf', 'application/pdf', :size,"
                " :sha, 'clean', :backend, :key, :at, :request, :code)"
            ),
            {
                "id": uuid.uuid4(),
                "owner": uuid.uuid4(),
                "size": stored.size,
                "sha": stored.sha256,
                "backend": stored.backend,
                "key": stored.key,
                "at": at,
                "request": request_id,
                "code": None if request_id is None else "passport",
            },
        )
        await finish_upload(conn, stored.key)


async def _request(engine: AsyncEngine) -> uuid.UUID:
    request_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO requests (id, number, service_id, service_version, agency_id,"
                " applicant_id, status, form_data, submitted_at, timezone, due_date, version,"
                " updated_at) VALUES (:id, :number, :id, 1, :id, :id, 'submitted', '{}',"
                " :at, 'Asia/Almaty', :due, 1, :at)"
            ),
            {"id": request_id, "number": request_id.hex[:12], "at": NOW, "due": NOW.date()},
        )
    return request_id


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
        return int(found.scalar_one())


async def test_an_upload_whose_process_died_leaves_nothing_after_the_cleanup(
    engine: AsyncEngine, backend: Backend
) -> None:
    # Stored, but the process died before the row: only the reservation knows the key.
    orphan = await _upload(engine, backend, at=NOW - timedelta(hours=2))
    # Still uploading (within the grace period): left alone.
    recent = await _upload(engine, backend, at=NOW - timedelta(minutes=5))

    assert await remove_stale(engine, backend.store, now=NOW, unattached_ttl=TTL) == 1

    assert await _gone(backend, orphan)
    assert not await _gone(backend, recent)
    assert await _count(engine, "document_uploads") == 1
    assert await _count(engine, "documents") == 0


async def test_documents_never_attached_are_removed_after_the_ttl(
    engine: AsyncEngine, backend: Backend
) -> None:
    old = await _upload(engine, backend, at=NOW - TTL - timedelta(minutes=1))
    await _row(engine, old, at=NOW - TTL - timedelta(minutes=1))
    fresh = await _upload(engine, backend, at=NOW - timedelta(hours=1))
    await _row(engine, fresh, at=NOW - timedelta(hours=1))
    attached = await _upload(engine, backend, at=NOW - 3 * TTL)
    await _row(engine, attached, at=NOW - 3 * TTL, request_id=await _request(engine))
    assert await _count(engine, "document_uploads") == 0

    assert await remove_stale(engine, backend.store, now=NOW, unattached_ttl=TTL) == 1

    assert await _gone(backend, old)
    assert not await _gone(backend, fresh)
    assert not await _gone(backend, attached)
    assert await _count(engine, "documents") == 2
    # A second round finds nothing more.
    assert await remove_stale(engine, backend.store, now=NOW, unattached_ttl=TTL) == 0


async def test_the_cleanup_works_through_batches(engine: AsyncEngine, backend: Backend) -> None:
    stored = [await _upload(engine, backend, at=NOW - timedelta(hours=3)) for _ in range(5)]
    assert await remove_stale(engine, backend.store, now=NOW, unattached_ttl=TTL, batch=2) == 5
    for one in stored:
        assert await _gone(backend, one)
