"""Taking in one uploaded file: content checks, malware scan and storage in one pass.

`take_in` reads the upload's stream once. Each piece goes to the `ContentInspector`
(a refused type stops the upload at its first piece), to clamd's INSTREAM session when
a scanner is configured, and to the store, which hashes it and enforces the size limit.
When the last piece is in, the inspector's end checks and the scan's verdict decide;
a refusal deletes what was stored before the error propagates, so a refused or infected
file is never kept. The endpoint then only parses the multipart part and writes the
`documents` row from the returned `Intake`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from service_requests.documents.detect import ContentInspector
from service_requests.documents.errors import DocumentInfected, ScannerUnavailable
from service_requests.documents.scanning import ClamdScanner, ScanResult, ScanSession, ScanVerdict
from service_requests.documents.storage import DocumentStore, StoredObject


@dataclass(frozen=True)
class Intake:
    stored: StoredObject
    content_type: str
    # None when no scanner is configured (the document is then taken as clean).
    scan: ScanResult | None


async def take_in(
    stream: AsyncIterable[bytes],
    *,
    store: DocumentStore,
    allowed: Iterable[str],
    max_size: int,
    declared_type: str | None = None,
    scanner: ClamdScanner | None = None,
    key: str | None = None,
) -> Intake:
    """Check, scan and store `stream`; raises UnsupportedDocumentType (415),
    EmptyDocument (422), DocumentTooLarge (413), DocumentInfected (422) or
    ScannerUnavailable (503), leaving nothing stored."""
    inspector = ContentInspector(allowed=allowed, declared=declared_type)
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(scanner.session()) if scanner else None
        stored = await store.put(_observed(stream, inspector, session), max_size=max_size, key=key)
        try:
            content_type = inspector.finish()
            scan = await session.result() if session else None
            if scan is not None and scan.verdict is ScanVerdict.INFECTED:
                raise DocumentInfected(message_key="error.document-infected", signature=scan.detail)
            if scan is not None and scan.verdict is ScanVerdict.ERROR:
                raise ScannerUnavailable(message_key="error.scanner-unavailable")
        except BaseException:
            await store.delete(stored.key)
            raise
    return Intake(stored, content_type, scan)


async def _observed(
    stream: AsyncIterable[bytes], inspector: ContentInspector, session: ScanSession | None
) -> AsyncIterator[bytes]:
    async for piece in stream:
        inspector.feed(piece)
        if session is not None:
            await session.feed(piece)
        yield piece
