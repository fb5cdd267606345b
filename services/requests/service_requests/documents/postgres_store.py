"""The PostgreSQL backend: a document's bytes as rows of `document_chunks` in the requests
database, so they are backed up and restored with the requests that refer to them.

A document is written in one transaction on a connection of its own: a failure or a
crash mid-upload rolls back every chunk. The transaction stays open while the upload
arrives (seconds for 10 MB); a piece at a time is in memory, never the file. Reads take
a few chunks per query (1 MiB), each query on a pooled connection held only for it, so a
slow download holds no connection while it waits for the client.
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
# Up to :n chunks from the one holding byte `pos` on, in order. The subquery finds that
# chunk's start on the primary key's index alone; later batches start exactly at `pos`.
CHUNKS_FROM = text(
    "SELECT start, data FROM document_chunks WHERE storage_key = :key AND start >= coalesce("
    "(SELECT max(start) FROM document_chunks WHERE storage_key = :key AND start <= :pos), 0)"
    " ORDER BY start LIMIT :n"
)
CHUNKS_AT = text(
    "SELECT start, data FROM document_chunks WHERE storage_key = :key AND start >= :pos"
    " ORDER BY start LIMIT :n"
)
DELETE = text("DELETE FROM document_chunks WHERE storage_key = :key")
# Chunks fetched per query: 1 MiB at the default chunk size, so a 10 MB read is ten round
# trips, each on a connection held only for that query.
READ_BATCH = 4


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
        pos = start
        query = CHUNKS_FROM
        while stop is None or pos < stop:
            async with self.engine.connect() as conn:
                rows = (
                    await conn.execute(query, {"key": ident, "pos": pos, "n": READ_BATCH})
                ).all()
            query = CHUNKS_AT
            for row in rows:
                chunk_start, data = int(row[0]), bytes(row[1])
                # Chunks are contiguous: the first holds `pos`, each next starts at it.
                if not chunk_start <= pos < chunk_start + len(data):
                    raise KeyError(f"{key}: no chunk holds byte {pos}")
                end = len(data) if stop is None else min(len(data), stop - chunk_start)
                piece = data[pos - chunk_start : end]
                yield piece
                pos += len(piece)
                if stop is not None and pos >= stop:
                    return
            if len(rows) < READ_BATCH:
                if stop is not None and pos < stop:
                    raise KeyError(key)
                return

    async def delete(self, key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(DELETE, {"key": UUID(key)})
