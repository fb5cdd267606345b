"""Malware scanning against a real clamd (Debian's clamav-daemon) whose only signature is
EICAR's: EICAR is infected wherever it sits, a genuine PDF is clean, and a scanner that
cannot answer is an error, never a pass."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from portal_embedded.broker import free_port
from portal_embedded.clamd import EICAR, SIGNATURE_NAME
from portal_testing.documents_corpus import Sample, genuine
from service_requests.documents.scanning import (
    ClamdScanner,
    ScanVerdict,
    parse_clamd_url,
    parse_reply,
)


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


@pytest.fixture
def scanner(clamd_url: str) -> ClamdScanner:
    return ClamdScanner(clamd_url, timeout=10)


async def test_the_eicar_test_file_is_infected(scanner: ClamdScanner) -> None:
    result = await scanner.scan(_pieces(EICAR, 1024))
    assert result.verdict is ScanVerdict.INFECTED
    assert result.detail is not None
    assert SIGNATURE_NAME in result.detail


async def test_eicar_inside_a_larger_file_sent_in_small_pieces_is_infected(
    scanner: ClamdScanner,
) -> None:
    data = b"%PDF-1.4\n" + b"a" * 200_000 + EICAR + b"b" * 100_000
    result = await scanner.scan(_pieces(data, 4093))
    assert result.verdict is ScanVerdict.INFECTED


SCANNED = [s for s in genuine() if s.name.endswith(("1.4", "large", "noise"))]


@pytest.mark.parametrize("sample", SCANNED, ids=lambda s: s.name)
async def test_genuine_documents_are_clean(scanner: ClamdScanner, sample: Sample) -> None:
    result = await scanner.scan(_pieces(sample.data, 64 * 1024))
    assert result.verdict is ScanVerdict.CLEAN
    assert result.clean


async def test_a_session_scans_as_the_upload_streams(scanner: ClamdScanner) -> None:
    async with scanner.session() as session:
        for piece in (b"%PDF-1.4\n", EICAR[:30], EICAR[30:], b"\n%%EOF\n"):
            await session.feed(piece)
        result = await session.result()
    assert result.verdict is ScanVerdict.INFECTED


async def test_a_scanner_that_is_down_is_an_error_not_clean() -> None:
    down = ClamdScanner(f"tcp://127.0.0.1:{free_port()}", timeout=2)
    result = await down.scan(_pieces(b"%PDF-1.4 harmless", 8))
    assert result.verdict is ScanVerdict.ERROR
    assert not result.clean
    assert await down.ping() is False


async def test_the_scanner_answers_ping(scanner: ClamdScanner) -> None:
    assert await scanner.ping() is True


def test_clamd_urls_and_replies_are_read_strictly() -> None:
    assert parse_clamd_url("tcp://clamav.internal:3310") == ("clamav.internal", 3310)
    assert parse_clamd_url("127.0.0.1:3310") == ("127.0.0.1", 3310)
    with pytest.raises(ValueError, match="tcp://"):
        parse_clamd_url("unix:///run/clamd.sock")
    assert parse_reply(b"stream: OK\0").verdict is ScanVerdict.CLEAN
    assert parse_reply(b"stream: Win.Test.EICAR_HDB-1 FOUND\0").detail == "Win.Test.EICAR_HDB-1"
    limit = parse_reply(b"INSTREAM size limit exceeded. ERROR\0")
    assert limit.verdict is ScanVerdict.ERROR
