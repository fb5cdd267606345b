"""What a document is, decided by its bytes: magic numbers, then structure, then safety.

The declared type (the multipart part's Content-Type) and the file name decide nothing;
a declared type the content contradicts is refused (OWASP File Upload Cheat Sheet).
The content arrives as a stream, so `ContentInspector` looks at each piece as it passes:
the head names the type (and an unwanted type is refused at the first piece, before
anything is stored), the whole stream is searched for markup and active content, and
the tail shows whether the file is complete.

The magic numbers come from `puremagic`: pure Python (no libmagic to install in every
image, unlike python-magic), maintained (releases through 2026, where `filetype` has had
none since 2022), and it reports every match with its offset. Magic alone cannot refuse
a polyglot or a truncated file, so each allowed type also gets a structural check:

- PDF: `%PDF-` at offset 0, `startxref` and `%%EOF` within the last 1024 bytes (where
  readers look for them; a truncated upload has neither), and no active content:
  `/JavaScript`, `/JS`, `/Launch`, `/RichMedia`, with `#xx` escapes in names decoded
  first. Compressed object streams are not opened; clamd is the second line there.
- PNG: the signature, `IHDR` as the first chunk, and the `IEND` chunk as the last bytes
  (anything appended after the image is refused).
- JPEG: `FF D8 FF` and the `FF D9` end marker last (trailing zero padding allowed).
- Every type: no HTML or script markup anywhere (`<script`, `<html`, `<!doctype html`,
  `<?php`, `javascript:` ...), which is what makes an image or PDF also a web page.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable

import puremagic

from service_requests.documents.errors import EmptyDocument, UnsupportedDocumentType
from service_requests.documents.settings import JPEG, PDF, PNG

# Enough for every magic number the library knows and for PNG's first chunk.
HEAD_BYTES = 4096
# PDF readers look for the trailer within the last 1024 bytes.
TAIL_BYTES = 1024
# Longest marker below, with room for `#xx` escapes in PDF names.
OVERLAP_BYTES = 128

# Names a browser or a client might send for the same type.
ALIASES = {
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/x-png": PNG,
    "application/x-pdf": PDF,
    "application/acrobat": PDF,
}
# A browser sends these when it does not know the type: they declare nothing.
UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})

# Each alternative is long or delimited enough that compressed image data matches it by
# chance less than once in ~10^5 10 MB files (a bare `<svg` or `<a` would not be).
MARKUP = re.compile(
    rb"<(?:script|html|iframe|body|object|embed|frameset)[\s>/]"
    rb"|<!doctype\s+html|<\?php|javascript:|vbscript:",
    re.IGNORECASE,
)
PDF_NAME = re.compile(rb"/([A-Za-z0-9#]{2,40})")
PDF_ACTIVE = frozenset({b"javascript", b"js", b"launch", b"richmedia"})
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
JPEG_SOI = b"\xff\xd8\xff"
JPEG_EOI = b"\xff\xd9"


def normalise_declared(declared: str | None) -> str | None:
    """`image/JPG; charset=x` -> `image/jpeg`; None when nothing is really declared."""
    if declared is None:
        return None
    base = declared.split(";", 1)[0].strip().lower()
    if base in UNDECLARED:
        return None
    return ALIASES.get(base, base)


def _pdf_name(raw: bytes) -> bytes:
    """Decode `#xx` escapes, so `/J#61vaScript` is seen as `/JavaScript`."""
    return re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw).lower()


def _magic_type(head: bytes) -> str | None:
    """The type the library names for the head, with its match at offset 0."""
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    for match in matches:
        if match.offset == 0 and match.mime_type:
            return str(match.mime_type)
    return None


class ContentInspector:
    """Feed every piece of a document in order, then `finish()` for its content type.

    Each call raises `UnsupportedDocumentType` as soon as the content is known to be
    refused, so an upload stops early; memory is the head, the tail and one overlap.
    """

    def __init__(self, *, allowed: Iterable[str], declared: str | None = None) -> None:
        self.allowed = frozenset(allowed)
        self.declared = normalise_declared(declared)
        self.size = 0
        self.content_type: str | None = None
        self._head = bytearray()
        self._tail = b""
        self._carry = b""

    def feed(self, piece: bytes) -> None:
        if not piece:
            return
        self.size += len(piece)
        if self.content_type is None:
            self._head += piece[: HEAD_BYTES - len(self._head)]
            if len(self._head) >= HEAD_BYTES:
                self._decide()
        self._tail = (self._tail + piece)[-TAIL_BYTES:]
        window = self._carry + piece
        self._search(window)
        self._carry = window[-OVERLAP_BYTES:]

    def finish(self) -> str:
        """The content type, once every byte has been fed; raises if it is refused."""
        if self.size == 0:
            raise EmptyDocument(message_key="error.document-empty")
        if self.content_type is None:
            self._decide()
        assert self.content_type is not None  # noqa: S101 - _decide sets it or raises
        self._check_ending(self.content_type)
        return self.content_type

    def _decide(self) -> None:
        head = bytes(self._head)
        found = _magic_type(head)
        if found is None or found not in self.allowed:
            raise UnsupportedDocumentType(
                message_key="error.document-type" if found else "error.document-type-unknown",
                params={"type": found, "accepted": ", ".join(sorted(self.allowed))},
                detected=found,
            )
        if self.declared is not None and self.declared != found:
            raise UnsupportedDocumentType(
                message_key="error.document-type-declared",
                params={"declared": self.declared, "type": found},
                detected=found,
                declared=self.declared,
            )
        self._check_head(found, head)
        self.content_type = found

    def _check_head(self, content_type: str, head: bytes) -> None:
        good = {
            PDF: head.startswith((b"%PDF-1.", b"%PDF-2.")),
            PNG: head.startswith(PNG_SIGNATURE) and head[12:16] == b"IHDR",
            JPEG: head.startswith(JPEG_SOI),
        }.get(content_type, True)
        if not good:
            raise UnsupportedDocumentType(
                message_key="error.document-bad-start", params={"type": content_type}
            )

    def _search(self, window: bytes) -> None:
        if MARKUP.search(window):
            raise UnsupportedDocumentType(message_key="error.document-markup")
        # Only a PDF can carry PDF actions, but the names are cheap to look for while the
        # type is still undecided (the first pieces).
        if self.content_type in (None, PDF) and self._head.startswith(b"%PDF"):
            for match in PDF_NAME.finditer(window):
                # A name cut by the end of this piece (`/JS` of `/JSON`) is seen whole in
                # the next window, which starts with the overlap.
                if match.end() == len(window):
                    continue
                if _pdf_name(match.group(1)) in PDF_ACTIVE:
                    raise UnsupportedDocumentType(message_key="error.document-active-pdf")

    def _check_ending(self, content_type: str) -> None:
        tail = self._tail
        if content_type == PDF:
            complete = b"%%EOF" in tail and b"startxref" in tail
        elif content_type == PNG:
            complete = tail.endswith(PNG_IEND)
        elif content_type == JPEG:
            complete = tail.rstrip(b"\x00\r\n\t ").endswith(JPEG_EOI)
        else:
            complete = True
        if not complete:
            raise UnsupportedDocumentType(
                message_key="error.document-truncated", params={"type": content_type}
            )


def inspect_bytes(data: bytes, *, allowed: Iterable[str], declared: str | None = None) -> str:
    """The content type of a whole document held in memory (small files, tests)."""
    inspector = ContentInspector(allowed=allowed, declared=declared)
    inspector.feed(data)
    return inspector.finish()


async def inspected(
    stream: AsyncIterable[bytes], inspector: ContentInspector
) -> AsyncIterator[bytes]:
    """Pass `stream` through `inspector`; the caller calls `finish()` after the last piece."""
    async for piece in stream:
        inspector.feed(piece)
        yield piece
