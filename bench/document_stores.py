"""Document stores: throughput and memory of `DocumentStore.put`/`open` against plain
writes and reads of the same bytes, for both backends, in one run.

Rows (100 MB as ten 10 MB files by default; `BENCH_DOC_FILES`, `BENCH_DOC_MB` tune it):

- PostgreSQL baseline: asyncpg `COPY` of the same 256 KiB rows into a bare table; a plain
  `SELECT` of them back
- PostgresStore: `put` (rechunked rows in one transaction, SHA-256 on the way in) and
  `open` (verify pass, then the send pass)
- S3 baseline: one `put_object` per file (the whole file in memory) and one `get_object`
- S3Store: `put` (5 MiB multipart parts) and `open`

The source is a generator of 64 KiB pieces, as a multipart parser hands them over; the
"peak MiB" column is tracemalloc's peak of Python allocations during the row, so it shows
what a path holds at once (the baselines hold a whole file by design). PostgreSQL runs
with fsync off, the S3 server is `rclone serve s3` on the same machine.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
from pydantic import SecretStr

from bench.harness import infra, ratio_table
from portal_embedded.broker import free_port
from portal_embedded.s3 import EmbeddedS3
from portal_shared.db import make_engine
from service_requests.documents.backends import open_store
from service_requests.documents.s3_store import S3Store
from service_requests.documents.settings import DocumentSettings
from service_requests.documents.storage import DocumentStore, StoredObject

FILES = int(os.environ.get("BENCH_DOC_FILES", "10"))
FILE_MB = int(os.environ.get("BENCH_DOC_MB", "10"))
PIECE = 64 * 1024
ROW = 256 * 1024
COLUMNS = ["put MB/s", "open MB/s", "put MiB", "open MiB"]


def _file(seed: int) -> bytes:
    return random.Random(seed).randbytes(FILE_MB * 1024 * 1024)


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for offset in range(0, len(data), PIECE):
        yield bytes(view[offset : offset + PIECE])


async def _measure(action: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    """(MB/s over all files, peak MiB of Python allocations above the start)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    start_bytes, _ = tracemalloc.get_traced_memory()
    started = time.perf_counter()
    await action()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return FILES * FILE_MB / elapsed, (peak - start_bytes) / (1024 * 1024)


async def _bench(database_url: str, s3: EmbeddedS3) -> list[tuple[str, list[float]]]:
    files = [_file(seed) for seed in range(FILES)]
    engine = make_engine(database_url)
    raw = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    await raw.execute("CREATE TABLE bench_blobs (n int, start bigint, data bytea)")
    await raw.execute("ALTER TABLE bench_blobs ALTER COLUMN data SET STORAGE EXTERNAL")
    s3_settings = DocumentSettings(
        documents_storage="s3",
        documents_s3_endpoint=s3.endpoint,
        documents_s3_access_key=SecretStr(s3.access_key),
        documents_s3_secret_key=SecretStr(s3.secret_key),
        documents_s3_bucket="bench",
        documents_s3_create_bucket=True,
    )
    rows: list[tuple[str, list[float]]] = []
    try:

        async def copy_in() -> None:
            for n, data in enumerate(files):
                records = [
                    (n, offset, data[offset : offset + ROW]) for offset in range(0, len(data), ROW)
                ]
                await raw.copy_records_to_table("bench_blobs", records=records)

        async def select_out() -> None:
            for n in range(FILES):
                async with raw.transaction():
                    async for _ in raw.cursor(
                        "SELECT data FROM bench_blobs WHERE n = $1 ORDER BY start", n, prefetch=1
                    ):
                        pass

        rows.append(
            ("PostgreSQL COPY in / SELECT out (baseline)", await _pair(copy_in, select_out))
        )
        async with open_store(DocumentSettings(), engine) as pg:
            rows.append(("PostgresStore put / open", await _store_pair(pg, files)))
        async with open_store(s3_settings, engine) as store:
            assert isinstance(store, S3Store)
            client, bucket = store.client, store.bucket

            async def put_objects() -> None:
                for n, data in enumerate(files):
                    await client.put_object(Bucket=bucket, Key=f"plain/{n}", Body=data)

            async def get_objects() -> None:
                for n in range(FILES):
                    response = await client.get_object(Bucket=bucket, Key=f"plain/{n}")
                    async with response["Body"] as body:
                        async for _ in body.iter_chunks(ROW):
                            pass

            rows.append(
                ("S3 put_object / get_object (baseline)", await _pair(put_objects, get_objects))
            )
            rows.append(("S3Store put / open", await _store_pair(store, files)))
    finally:
        await raw.close()
        await engine.dispose()
    return rows


async def _pair(
    write: Callable[[], Awaitable[None]], read: Callable[[], Awaitable[None]]
) -> list[float]:
    write_rate, write_peak = await _measure(write)
    read_rate, read_peak = await _measure(read)
    return [write_rate, read_rate, write_peak, read_peak]


async def _store_pair(store: DocumentStore, files: list[bytes]) -> list[float]:
    stored: list[StoredObject] = []

    async def put() -> None:
        for data in files:
            stored.append(await store.put(_pieces(data), max_size=len(data)))

    async def read() -> None:
        for one in stored:
            async for _ in await store.open(one):
                pass

    return await _pair(put, read)


def run() -> None:
    with infra() as servers, tempfile.TemporaryDirectory(prefix="portal-bench-s3-") as folder:
        database_url = servers.postgres.database_url("requests")
        env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
        subprocess.run([sys.executable, "-m", "service_requests", "migrate"], env=env, check=True)
        s3 = EmbeddedS3(Path(folder), free_port())
        s3.start()
        try:
            rows = asyncio.run(_bench(database_url, s3))
        finally:
            s3.stop()
    print(
        ratio_table(
            f"{FILES} files of {FILE_MB} MB (MB/s; peak MiB of Python allocations)",
            COLUMNS,
            rows[:2],
        )
    )
    print(ratio_table("", COLUMNS, rows[2:]))
