"""The configured document store: `open_store(settings, engine)` for an app's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from service_requests.documents.postgres_store import PostgresStore
from service_requests.documents.s3_store import S3Store
from service_requests.documents.settings import DocumentSettings
from service_requests.documents.storage import DocumentStore


@asynccontextmanager
async def open_store(
    settings: DocumentSettings, engine: AsyncEngine
) -> AsyncIterator[DocumentStore]:
    """PostgreSQL (the service's own database) unless DOCUMENTS_STORAGE=s3."""
    store: DocumentStore
    if settings.documents_storage == "s3":
        store = await S3Store.connect(settings)
    else:
        store = PostgresStore(engine, chunk_bytes=settings.documents_chunk_bytes)
    try:
        yield store
    finally:
        await store.aclose()
