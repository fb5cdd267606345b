"""The requests service killed with SIGKILL in the middle of a document upload.

The upload reserved its storage key (`document_uploads`) before its first byte was
stored, and some of its bytes are stored (PostgreSQL chunks, or S3 multipart parts) when
the process dies; no shutdown code runs. The document never got a row, and after the
cleanup (`lifecycle.remove_stale`, here run as the worker would once the upload's grace
has passed) no byte of it is left in either backend.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from portal_shared.db import make_engine
from portal_testing.plugin import S3Server
from portal_testing.service import TestIssuer
from service_requests.documents.backends import open_store
from service_requests.documents.lifecycle import UPLOAD_GRACE, remove_stale
from service_requests.documents.s3_store import S3Store
from service_requests.documents.settings import DocumentSettings
from tests.faults.harness import Portal, count

BOUNDARY = "----portal-killed-upload"
PIECE = 64 * 1024
BUCKET = "documents-killed"


def s3_environment(server: S3Server) -> dict[str, str]:
    return {
        "DOCUMENTS_STORAGE": "s3",
        "DOCUMENTS_S3_ENDPOINT": server.endpoint,
        "DOCUMENTS_S3_ACCESS_KEY": server.access_key,
        "DOCUMENTS_S3_SECRET_KEY": server.secret_key,
        "DOCUMENTS_S3_BUCKET": BUCKET,
        "DOCUMENTS_S3_CREATE_BUCKET": "true",
    }


async def endless_pdf(sent: list[int], release: asyncio.Event) -> AsyncIterator[bytes]:
    """A multipart body whose PDF never ends: pieces keep coming until the server dies."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"'
        "\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n"
    ).encode()
    while True:
        yield b"0" * PIECE
        sent[0] += PIECE
        if sent[0] >= 7 * 1024 * 1024:
            # Enough for a stored S3 part (5 MiB) and PostgreSQL chunks; then trickle.
            release.set()
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("backend", ["postgres", "s3"])
async def test_an_upload_killed_midway_leaves_nothing_after_the_cleanup(
    portal: Portal, fault_issuer: TestIssuer, s3_server: S3Server, backend: str
) -> None:
    await portal.migrate("requests")
    env = s3_environment(s3_server) if backend == "s3" else {}
    server = await portal.start("requests", "serve", RUN_RELAY="false", **env)
    database = portal.database_url("requests")
    headers = {
        **fault_issuer.headers(sub=uuid.uuid4(), roles=["resident"], ttl=600),
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    sent, release = [0], asyncio.Event()

    async def upload() -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            await client.post(
                server.base_url + "/api/v1/documents",
                content=endless_pdf(sent, release),
                headers=headers,
            )

    uploading = asyncio.create_task(upload())
    await asyncio.wait_for(release.wait(), 60)
    # Let the server store some of what was sent: PostgreSQL chunks (in the upload's open
    # transaction, so not visible from here) or the first S3 part.
    await asyncio.sleep(1.0)
    assert await count(database, "SELECT count(*) FROM document_uploads") == 1
    server.kill()
    with pytest.raises(httpx.HTTPError):
        await uploading

    assert await count(database, "SELECT count(*) FROM documents") == 0
    settings = DocumentSettings.model_validate({k.lower(): v for k, v in env.items()})
    engine = make_engine(database)
    try:
        async with open_store(settings, engine) as store:
            later = datetime.now(UTC) + UPLOAD_GRACE + timedelta(minutes=1)
            removed = await remove_stale(engine, store, now=later, unattached_ttl=timedelta(1))
            assert removed == 1
            assert await count(database, "SELECT count(*) FROM document_uploads") == 0
            assert await count(database, "SELECT count(*) FROM document_chunks") == 0
            if isinstance(store, S3Store):
                listed = await store.client.list_objects_v2(Bucket=BUCKET)
                assert listed.get("KeyCount", 0) == 0
                unfinished = await store.client.list_multipart_uploads(Bucket=BUCKET)
                assert unfinished.get("Uploads", []) == []
    finally:
        await engine.dispose()
