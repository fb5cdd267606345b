"""The two document stores, for the test modules of documents to parametrise over:
PostgreSQL (the migrated test database) and S3 (the plugin's `rclone serve s3`), each
with a way to damage what it stored behind its back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_testing.plugin import S3Server
from service_requests.documents.backends import open_store
from service_requests.documents.s3_store import S3Store
from service_requests.documents.settings import DocumentSettings
from service_requests.documents.storage import DocumentStore, StoredObject

CHUNK = 256 * 1024


@dataclass
class Backend:
    store: DocumentStore
    # Overwrite stored bytes at an offset (or append them) behind the store's back.
    corrupt: Callable[[StoredObject, int, bytes], Awaitable[None]]


def s3_settings(server: S3Server) -> DocumentSettings:
    return DocumentSettings(
        documents_storage="s3",
        documents_s3_endpoint=server.endpoint,
        documents_s3_access_key=SecretStr(server.access_key),
        documents_s3_secret_key=SecretStr(server.secret_key),
        documents_s3_bucket="documents-test",
        documents_s3_create_bucket=True,
    )


@asynccontextmanager
async def open_backend(
    kind: str, engine: AsyncEngine, s3_server: S3Server | None
) -> AsyncIterator[Backend]:
    if kind == "postgres":
        settings = DocumentSettings(documents_storage="postgres")
    else:
        assert s3_server is not None
        settings = s3_settings(s3_server)
    async with open_store(settings, engine) as store:
        if isinstance(store, S3Store):
            s3 = store

            async def corrupt(stored: StoredObject, offset: int, data: bytes) -> None:
                whole = bytearray(await _read_all(s3, stored))
                whole[offset : offset + len(data)] = data
                await s3.client.put_object(
                    Bucket=s3.bucket, Key=s3._name(stored.key), Body=bytes(whole)
                )

        else:

            async def corrupt(stored: StoredObject, offset: int, data: bytes) -> None:
                async with engine.begin() as conn:
                    changed = await conn.execute(
                        text(
                            "UPDATE document_chunks SET data = overlay(data placing :data"
                            " from :at) WHERE storage_key = :key AND start <= :offset"
                            " AND start + octet_length(data) > :offset"
                        ),
                        {
                            "data": data,
                            "key": stored.key,
                            "offset": offset,
                            "at": offset % CHUNK + 1,
                        },
                    )
                    if changed.rowcount == 0:  # past the end: an appended chunk
                        await conn.execute(
                            text(
                                "INSERT INTO document_chunks (storage_key, start, data)"
                                " VALUES (:key, :offset, :data)"
                            ),
                            {"data": data, "key": stored.key, "offset": offset},
                        )

        yield Backend(store, corrupt)


async def _read_all(store: DocumentStore, stored: StoredObject) -> bytes:
    # The raw bytes, unchecked: to build a corrupted copy.
    return b"".join([piece async for piece in store._read(stored.key, 0, None)])
