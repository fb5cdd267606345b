"""The S3 backend: a document's bytes as one object in an S3-compatible bucket.

`aiobotocore` is the async S3 client: botocore's maintained request signing and
retries, with aiohttp underneath; `types-aiobotocore-s3` types it for mypy. An upload
goes up as a multipart upload, one part (5 MiB by default, S3's smallest) in memory at a
time; a document smaller than one part is a single PUT. A failure aborts the multipart
upload, so no half object is left behind. Reads are ranged GETs streamed in pieces.

Checksums: botocore's own request and response checksums are asked for only where S3
requires them (`when_required`), because S3-compatible servers differ in which they
return (a ranged GET may carry the whole object's CRC), and the integrity of a document
is established by its SHA-256 in `storage.DocumentStore.open` anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AsyncExitStack, suppress
from typing import TYPE_CHECKING, ClassVar

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from service_requests.documents.settings import DocumentSettings
from service_requests.documents.storage import (
    DocumentStore,
    SizeLimit,
    StoredObject,
    limited,
    new_storage_key,
    rechunk,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

READ_PIECE_BYTES = 256 * 1024
MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
UNSUPPORTED = frozenset({"NotImplemented", "501"})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Store(DocumentStore):
    backend: ClassVar[str] = "s3"

    def __init__(
        self, client: S3Client, *, bucket: str, prefix: str = "", part_bytes: int = 5 << 20
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_bytes = part_bytes
        self._stack: AsyncExitStack | None = None

    @classmethod
    async def connect(cls, settings: DocumentSettings) -> S3Store:
        """A store with its own client; `aclose()` releases it."""
        assert settings.documents_s3_access_key is not None  # noqa: S101 - settings check it
        assert settings.documents_s3_secret_key is not None  # noqa: S101
        stack = AsyncExitStack()
        client: S3Client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=settings.documents_s3_endpoint,
                region_name=settings.documents_s3_region,
                aws_access_key_id=settings.documents_s3_access_key.get_secret_value(),
                aws_secret_access_key=settings.documents_s3_secret_key.get_secret_value(),
                config=AioConfig(
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    s3={"addressing_style": "path"},
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        )
        store = cls(
            client,
            bucket=settings.documents_s3_bucket,
            prefix=settings.documents_s3_prefix,
            part_bytes=settings.documents_s3_part_bytes,
        )
        store._stack = stack
        try:
            if settings.documents_s3_create_bucket:
                await store.ensure_bucket()
        except BaseException:
            await stack.aclose()
            raise
        return store

    async def aclose(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def ensure_bucket(self) -> None:
        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in MISSING | {"NoSuchBucket"}:
                raise
            await self.client.create_bucket(Bucket=self.bucket)

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    async def put(
        self, stream: AsyncIterable[bytes], *, max_size: int, key: str | None = None
    ) -> StoredObject:
        key = key or new_storage_key()
        name = self._name(key)
        limit = SizeLimit(max_size)
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        try:
            async for part in rechunk(limited(stream, limit), self.part_bytes):
                if upload_id is None and len(part) < self.part_bytes:
                    # rechunk yields a short part only last: the whole document is this.
                    await self.client.put_object(Bucket=self.bucket, Key=name, Body=part)
                    return StoredObject(self.backend, key, limit.size, limit.sha256)
                if upload_id is None:
                    created = await self.client.create_multipart_upload(
                        Bucket=self.bucket, Key=name
                    )
                    upload_id = created["UploadId"]
                number = len(parts) + 1
                sent = await self.client.upload_part(
                    Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=part
                )
                parts.append({"ETag": sent["ETag"], "PartNumber": number})
            if upload_id is None:
                await self.client.put_object(Bucket=self.bucket, Key=name, Body=b"")
            else:
                await self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            if upload_id is not None:
                await self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=name, UploadId=upload_id
                )
            raise
        return StoredObject(self.backend, key, limit.size, limit.sha256)

    async def _read(self, key: str, start: int, stop: int | None) -> AsyncIterator[bytes]:
        if stop is not None and stop <= start:
            return
        wanted = f"bytes={start}-" if stop is None else f"bytes={start}-{stop - 1}"
        try:
            if stop is None and start == 0:
                # The whole object, whatever its length (a ranged GET of an empty one is
                # refused as unsatisfiable).
                response = await self.client.get_object(Bucket=self.bucket, Key=self._name(key))
            else:
                response = await self.client.get_object(
                    Bucket=self.bucket, Key=self._name(key), Range=wanted
                )
        except ClientError as exc:
            if _code(exc) in MISSING:
                raise KeyError(key) from exc
            raise
        async with response["Body"] as body:
            async for piece in body.iter_chunks(READ_PIECE_BYTES):
                yield piece

    async def delete(self, key: str) -> None:
        name = self._name(key)
        await self.client.delete_object(Bucket=self.bucket, Key=name)
        await self._abort_unfinished(name)

    async def _abort_unfinished(self, name: str) -> None:
        """Abort the multipart uploads left under `name` by a process killed mid-upload:
        their parts are kept (and paid for) until aborted, though no object shows them."""
        try:
            listed = await self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=name)
        except ClientError as exc:
            # A server without the listing; or one that answers "no such upload" for a
            # name with none under it (rclone's gofakes3) rather than an empty list.
            if _code(exc) in UNSUPPORTED | {"NoSuchUpload"}:
                return
            raise
        for upload in listed.get("Uploads", []):
            if upload.get("Key") == name and "UploadId" in upload:
                with suppress(ClientError):  # aborted meanwhile by another replica
                    await self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=name, UploadId=upload["UploadId"]
                    )
