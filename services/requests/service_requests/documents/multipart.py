"""Reading the `file` part of a `multipart/form-data` body as it arrives.

`python_multipart`'s push parser is fed the request's body piece by piece (never
`request.form()`, which spools the whole body first); the file part's bytes are handed
on in the pieces they arrived in, so an upload is never whole in memory. Past
`max_request` bytes of body the reading stops with 413 at the piece that crossed it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import unquote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from portal_shared.i18n import Message
from service_requests.documents.errors import UploadFileMissing, UploadMalformed, UploadTooLarge

FILE_FIELD = b"file"


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: bytes = b""
    filename: str | None = None
    content_type: str | None = None


class FormUpload:
    """One multipart body: `await open()` reads up to the `file` part's headers, then
    `data()` yields its bytes; `drain()` reads (and ignores) whatever follows."""

    def __init__(
        self, body: AsyncIterable[bytes], content_type: str | None, *, max_request: int
    ) -> None:
        kind, params = parse_options_header(content_type or "")
        boundary = params.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise UploadMalformed(message_key="error.upload-not-multipart")
        self._body = body.__aiter__()
        self._max_request = max_request
        self._received = 0
        self._ended = False
        self._part = _Part()
        self._header_field = b""
        self._header_value = b""
        self._in_file = False
        self._file_seen = False
        self._file_done = False
        self._pieces: list[bytes] = []
        self.filename: str | None = None
        self.content_type: str | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    # Parser callbacks: they only record; the async side hands the bytes on.
    def _part_begin(self) -> None:
        self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._part.headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        part = self._part
        _, params = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = params.get(b"name", b"")
        if part.name != FILE_FIELD or self._file_seen:
            return
        self._file_seen = self._in_file = True
        self.filename = _filename(params)
        declared = part.headers.get(b"content-type")
        self.content_type = declared.decode("latin-1") if declared else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pieces.append(data[start:end])

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_done = True

    async def _feed(self) -> bool:
        """Parse the next piece of the body; False at its end."""
        try:
            piece = await self._body.__anext__()
        except StopAsyncIteration:
            self._ended = True
            return False
        self._received += len(piece)
        if self._received > self._max_request:
            raise UploadTooLarge(
                message_key="error.upload-too-large",
                params={"limit": self._max_request},
                max_size=self._max_request,
            )
        try:
            self._parser.write(piece)
        except MultipartParseError as exc:
            raise UploadMalformed(
                message_key="error.upload-unreadable", params={"reason": str(exc)}
            ) from None
        return True

    async def open(self) -> None:
        """Read until the `file` part's headers; UploadFileMissing when there is none."""
        while not self._file_seen:
            if not await self._feed():
                raise UploadFileMissing(
                    message_key="error.upload-no-file",
                    errors=[{"location": "file", "message": Message("validation.file-missing")}],
                )

    async def data(self) -> AsyncIterator[bytes]:
        """The file part's bytes, in the pieces they arrived in."""
        while True:
            pieces, self._pieces = self._pieces, []
            for piece in pieces:
                if piece:
                    yield piece
            if self._file_done:
                return
            if not await self._feed():
                raise UploadMalformed(message_key="error.upload-cut-short")

    async def drain(self) -> None:
        """Read the rest of the body (other parts are ignored), checking its framing."""
        while not self._ended:
            await self._feed()
            self._pieces.clear()
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise UploadMalformed(
                message_key="error.upload-unreadable", params={"reason": str(exc)}
            ) from None


def _filename(params: dict[bytes, bytes]) -> str | None:
    """`filename*` (RFC 5987, UTF-8) if given, else `filename` (browsers send UTF-8)."""
    extended = params.get(b"filename*")
    if extended:
        text = extended.decode("latin-1")
        charset, _, rest = text.partition("'")
        _, _, value = rest.partition("'")
        if charset.lower() == "utf-8" and value:
            return unquote(value, encoding="utf-8", errors="replace")
    raw = params.get(b"filename")
    return raw.decode("utf-8", errors="replace") if raw is not None else None
