"""The life of a document's bytes around its row: reserved before upload, released with
the row, removed when never attached.

An upload endpoint does, in order:

1. `key = await begin_upload(engine, store.backend)`: records the random storage key in
   `document_uploads` and commits, before any byte is stored;
2. `intake = await take_in(stream, store=store, key=key, ...)`;
3. in the request's transaction: insert the `documents` row and `await
   finish_upload(session, key)`, so the reservation disappears exactly when the row
   appears.

If the process dies between 1 and 3, the reservation stays; `remove_stale` (run
periodically) deletes its bytes (deleting is idempotent, and a key with no bytes is
fine) and then the reservation. It also removes documents never attached to a request
within the TTL (24 hours by default): bytes first, then the row, so a crash between the
two leaves a row whose bytes the next round deletes again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from service_requests.documents.storage import DocumentStore, new_storage_key

log = structlog.get_logger(__name__)

# Longer than any upload may take (10 MB at a slow 20 kB/s is under 9 minutes).
UPLOAD_GRACE = timedelta(hours=1)

STALE_UPLOADS = text(
    "SELECT storage_key FROM document_uploads"
    " WHERE storage_backend = :backend AND started_at < :before"
    " ORDER BY started_at LIMIT :batch FOR UPDATE SKIP LOCKED"
)
UNATTACHED = text(
    "SELECT id, storage_key FROM documents"
    " WHERE attached_request_id IS NULL AND storage_backend = :backend AND created_at < :before"
    " ORDER BY created_at LIMIT :batch FOR UPDATE SKIP LOCKED"
)


async def begin_upload(engine: AsyncEngine, backend: str, *, now: datetime) -> str:
    """Reserve (and commit) a fresh storage key for an upload about to start."""
    key = new_storage_key()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO document_uploads (storage_key, storage_backend, started_at)"
                " VALUES (:key, :backend, :now)"
            ),
            {"key": key, "backend": backend, "now": now},
        )
    return key


async def finish_upload(session: AsyncSession | AsyncConnection, key: str) -> None:
    """Release the reservation, in the transaction that inserts the document's row."""
    await session.execute(
        text("DELETE FROM document_uploads WHERE storage_key = :key"), {"key": key}
    )


async def remove_stale(
    engine: AsyncEngine,
    store: DocumentStore,
    *,
    now: datetime,
    unattached_ttl: timedelta,
    upload_grace: timedelta = UPLOAD_GRACE,
    batch: int = 100,
) -> int:
    """Delete abandoned uploads and unattached documents of `store`'s backend older than
    their limits, a batch per transaction; returns how many were removed."""
    removed = 0
    while True:
        async with engine.begin() as conn:
            keys = (
                (
                    await conn.execute(
                        STALE_UPLOADS,
                        {"backend": store.backend, "before": now - upload_grace, "batch": batch},
                    )
                )
                .scalars()
                .all()
            )
            for key in keys:
                await store.delete(key)
                await finish_upload(conn, key)
            rows = (
                await conn.execute(
                    UNATTACHED,
                    {"backend": store.backend, "before": now - unattached_ttl, "batch": batch},
                )
            ).all()
            for document_id, key in rows:
                await store.delete(key)
                await conn.execute(
                    text("DELETE FROM documents WHERE id = :id"), {"id": document_id}
                )
        removed += len(keys) + len(rows)
        if len(keys) < batch and len(rows) < batch:
            if removed:
                log.info("documents_removed_stale", count=removed, backend=store.backend)
            return removed
