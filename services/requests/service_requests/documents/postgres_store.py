"""The PostgreSQL backend: a document's bytes as rows of `document_chunks` in the requests
database, so they are backed up and restored with the requests that refer to them.

A document is written in one transaction on a connection of its own: a failure or a
crash mid-upload rolls back every chunk. The transaction stays open while the upload
arrives (seconds for 10 MB); a piece at a time is in memory, never the file. Reads take
one chunk per query, each on a pooled connection only for that query, so a slow
download holds no connection while it waits for the client.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import ClassVar
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service_requests.documents.storage import (
    DocumentStore,
    SizeLimit,
    StoredObject,
    limited,
    new_storage_key,
    rechunk,
)

INSERT = text("INSERT INTO document_chunks (storage_key, start, data) VALUES (:key, :start, :data)")
# The chunk that holds byte `pos`: the last one starting at or before it (the primary
# key's index, read backwards, finds it without touching other rows' data).
CHUNK_AT = text(
    "SELECT start, data FROM document_chunks WHERE storage_key = :key AND start <= :pos"
    " ORDER BY start DESC LIMIT 1"
)
DELETE = text("DELETE FROM document_chunks WHERE storage_key = :key")
LAST_END = text(
    "SELECT max(start + octet_length(data)) FROM document_chunks WHERE storage_key = :key"
)


class PostgresStore(DocumentStore):
    backend: ClassVar[str] = "postgres"

    def __init__(self, engine: AsyncEngine, *, chunk_bytes: int = 256 * 1024) -> None:
        self.engine = engine
        self.chunk_bytes = chunk_bytes

    async def put(
        self, stream: AsyncIterable[bytes], *, max_size: int, key: str | None = None
    ) -> StoredObject:
        key = key or new_storage_key()
        ident = UUID(key)
        limit = SizeLimit(max_size)
        async with self.engine.begin() as conn:
            offset = 0
            async for chunk in rechunk(limited(stream, limit), self.chunk_bytes):
                await conn.execute(INSERT, {"key": ident, "start": offset, "data": chunk})
                offset += len(chunk)
        return StoredObject(self.backend, key, limit.size, limit.sha256)

    async def _read(self, key: str, start: int, stop: int | None) -> AsyncIterator[bytes]:
        ident = UUID(key)
        if stop is None:
            async with self.engine.connect() as conn:
                end = (await conn.execute(LAST_END, {"key": ident})).scalar_one()
            if end is None:
                # No chunk at all: an empty document, or one that is gone; the caller's
                # size and hash tell which.
                return
            stop = int(end)
        pos = start
        while pos < stop:
            async with self.engine.connect() as conn:
                row = (await conn.execute(CHUNK_AT, {"key": ident, "pos": pos})).first()
            if row is None:
                raise KeyError(key)
            chunk_start, data = int(row[0]), bytes(row[1])
            if chunk_start + len(data) <= pos:
                raise KeyError(f"{key}: no chunk holds byte {pos}")
            piece = data[pos - chunk_start : stop - chunk_start]
            yield piece
            pos += len(piece)

    async def delete(self, key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(DELETE, {"key": UUID(key)})
