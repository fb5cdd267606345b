"""Taking in an upload in one pass, on both stores: a genuine file is stored with its
type and SHA-256; a refused type stops the upload at its first piece; an infected file,
or one the scanner could not check, is refused and nothing of it is kept."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_embedded.broker import free_port
from portal_embedded.clamd import EICAR
from portal_shared.db import make_engine
from portal_testing.documents_corpus import genuine, hand_pdf
from portal_testing.documents_stores import Backend, open_backend
from service_requests.documents.errors import (
    DocumentInfected,
    DocumentIntegrityError,
    DocumentTooLarge,
    EmptyDocument,
    ScannerUnavailable,
    UnsupportedDocumentType,
)
from service_requests.documents.intake import take_in
from service_requests.documents.scanning import ClamdScanner, ScanVerdict
from service_requests.documents.settings import JPEG, PDF, PNG
from service_requests.documents.storage import StoredObject, new_storage_key
from service_requests.settings import RequestsSettings

ALLOWED = frozenset({PDF, JPEG, PNG})
MIB = 1024 * 1024
SAMPLES = {sample.name: sample for sample in genuine()}


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


@pytest.fixture
def scanner(clamd_url: str) -> ClamdScanner:
    return ClamdScanner(clamd_url, timeout=10)


async def _pieces(data: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def _nothing_under(backend: Backend, key: str) -> bool:
    probe = StoredObject(backend.store.backend, key, 1, hashlib.sha256(b"x").hexdigest())
    try:
        await backend.store.open(probe)
    except DocumentIntegrityError:
        return True
    return False


@pytest.mark.parametrize("name", ["pdf-hand-1.4", "jpeg-exif", "png-large-noise"])
async def test_a_genuine_file_is_scanned_stored_and_read_back(
    backend: Backend, scanner: ClamdScanner, name: str
) -> None:
    sample = SAMPLES[name]
    intake = await take_in(
        _pieces(sample.data),
        store=backend.store,
        allowed=ALLOWED,
        max_size=10 * MIB,
        declared_type=sample.declared,
        scanner=scanner,
    )
    assert intake.content_type == {"pdf": PDF, "jpeg": JPEG, "png": PNG}[name.split("-")[0]]
    assert intake.scan is not None
    assert intake.scan.verdict is ScanVerdict.CLEAN
    assert intake.stored.sha256 == hashlib.sha256(sample.data).hexdigest()
    body = b"".join([piece async for piece in await backend.store.open(intake.stored)])
    assert body == sample.data


async def test_without_a_scanner_the_file_is_stored_unscanned(backend: Backend) -> None:
    sample = SAMPLES["png-rgb"]
    intake = await take_in(_pieces(sample.data), store=backend.store, allowed=ALLOWED, max_size=MIB)
    assert intake.scan is None
    assert intake.content_type == PNG


async def test_an_infected_pdf_is_refused_and_not_kept(
    backend: Backend, scanner: ClamdScanner
) -> None:
    # A well-formed PDF (it passes the content checks) carrying EICAR in a page's text.
    infected = hand_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [] /Count 0 >>",
            b"<< /Length %d >>\nstream\n" % len(EICAR) + EICAR + b"\nendstream",
        ]
    )
    key = new_storage_key()
    with pytest.raises(DocumentInfected) as caught:
        await take_in(
            _pieces(infected, 50),
            store=backend.store,
            allowed=ALLOWED,
            max_size=MIB,
            scanner=scanner,
            key=key,
        )
    assert caught.value.status == 422
    assert await _nothing_under(backend, key)


async def test_a_file_the_scanner_could_not_check_is_refused_and_not_kept(
    backend: Backend,
) -> None:
    down = ClamdScanner(f"tcp://127.0.0.1:{free_port()}", timeout=2)
    key = new_storage_key()
    with pytest.raises(ScannerUnavailable) as caught:
        await take_in(
            _pieces(SAMPLES["pdf-hand-1.4"].data),
            store=backend.store,
            allowed=ALLOWED,
            max_size=MIB,
            scanner=down,
            key=key,
        )
    assert caught.value.status == 503
    assert await _nothing_under(backend, key)


async def test_a_refused_type_stops_the_upload_at_its_first_piece(backend: Backend) -> None:
    taken: list[int] = []

    async def html() -> AsyncIterator[bytes]:
        for _ in range(1000):
            taken.append(1)
            yield b"<!DOCTYPE html><html><body>" + b" " * 8192

    key = new_storage_key()
    with pytest.raises(UnsupportedDocumentType) as caught:
        await take_in(html(), store=backend.store, allowed=ALLOWED, max_size=10 * MIB, key=key)
    assert caught.value.status == 415
    assert len(taken) == 1
    assert await _nothing_under(backend, key)


async def test_a_truncated_pdf_is_refused_after_the_last_piece_and_not_kept(
    backend: Backend,
) -> None:
    data = SAMPLES["pdf-large"].data
    key = new_storage_key()
    with pytest.raises(UnsupportedDocumentType):
        await take_in(
            _pieces(data[: len(data) - 200]),
            store=backend.store,
            allowed=ALLOWED,
            max_size=MIB,
            declared_type=PDF,
            key=key,
        )
    assert await _nothing_under(backend, key)


async def test_limits_and_empty_files(backend: Backend) -> None:
    data = SAMPLES["pdf-large"].data
    with pytest.raises(DocumentTooLarge):
        await take_in(_pieces(data), store=backend.store, allowed=ALLOWED, max_size=len(data) - 1)
    with pytest.raises(EmptyDocument):
        await take_in(_pieces(b""), store=backend.store, allowed=ALLOWED, max_size=MIB)
