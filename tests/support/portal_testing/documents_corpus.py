"""Files for the documents tests, made here: genuine PDF, JPEG and PNG files from several
producers (Pillow's encoders with different options, and PDFs written by hand in the
styles real producers use), and the files an upload must refuse."""

from __future__ import annotations

import io
import random
import zlib
from dataclasses import dataclass

from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

from portal_embedded.clamd import EICAR

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    # The Content-Type the upload declares (None: the browser sent none).
    declared: str | None = None


def _picture(mode: str, size: tuple[int, int] = (96, 64), *, noise: bool = False) -> Image.Image:
    image = Image.new("RGB", size, (200, 220, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, size[0] - 8, size[1] - 8), outline=(20, 40, 160), width=3)
    draw.text((12, 12), "Baikonur", fill=(0, 0, 0))
    if noise:
        rng = random.Random(18)
        image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    return image.convert(mode)


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def pngs() -> list[Sample]:
    info = PngInfo()
    info.add_text("Software", "scanner 2.1")
    info.add_text("Comment", "passport page 1 <ok> & fine", zip=True)
    return [
        Sample("png-rgb", _save(_picture("RGB"), "PNG")),
        Sample("png-rgba-optimised", _save(_picture("RGBA"), "PNG", optimize=True), PNG),
        Sample("png-palette", _save(_picture("P"), "PNG"), "image/x-png"),
        Sample("png-grey-uncompressed", _save(_picture("L"), "PNG", compress_level=0)),
        Sample("png-bilevel", _save(_picture("1"), "PNG"), "application/octet-stream"),
        Sample("png-16bit", _save(_picture("I;16"), "PNG")),
        Sample("png-text-chunks", _save(_picture("RGB"), "PNG", pnginfo=info), PNG),
        Sample("png-large-noise", _save(_picture("RGB", (900, 700), noise=True), "PNG"), PNG),
    ]


def jpegs() -> list[Sample]:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    exif[0x0110] = "Model 7"
    return [
        Sample("jpeg-baseline", _save(_picture("RGB"), "JPEG", quality=95)),
        Sample("jpeg-progressive", _save(_picture("RGB"), "JPEG", progressive=True), JPEG),
        Sample("jpeg-optimised-444", _save(_picture("RGB"), "JPEG", optimize=True, subsampling=0)),
        Sample("jpeg-grey", _save(_picture("L"), "JPEG"), "image/jpg"),
        Sample("jpeg-cmyk", _save(_picture("CMYK"), "JPEG"), JPEG),
        Sample("jpeg-exif", _save(_picture("RGB"), "JPEG", exif=exif.tobytes()), "image/pjpeg"),
        Sample("jpeg-comment", _save(_picture("RGB"), "JPEG", comment=b"scanned at the CSC")),
        Sample("jpeg-large-noise", _save(_picture("RGB", (1200, 900), noise=True), "JPEG"), JPEG),
        # Some cameras pad after the end marker.
        Sample("jpeg-padded", _save(_picture("RGB"), "JPEG") + b"\x00" * 32),
    ]


def hand_pdf(
    objects: list[bytes],
    *,
    version: bytes = b"1.4",
    eol: bytes = b"\n",
    binary_comment: bool = True,
    trailer_end: bytes = b"\n",
) -> bytes:
    """A PDF with a classic cross-reference table, its offsets computed."""
    out = bytearray(b"%PDF-" + version + eol)
    if binary_comment:
        out += b"%\xe2\xe3\xcf\xd3" + eol
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj" % number + eol + body + eol + b"endobj" + eol
    xref = len(out)
    out += b"xref" + eol + b"0 %d" % (len(objects) + 1) + eol + b"0000000000 65535 f\r\n"
    for offset in offsets:
        out += b"%010d 00000 n\r\n" % offset
    out += b"trailer" + eol + b"<< /Size %d /Root 1 0 R >>" % (len(objects) + 1) + eol
    out += b"startxref" + eol + b"%d" % xref + eol + b"%%EOF" + trailer_end
    return bytes(out)


def _stream(content: bytes, *, flate: bool = False) -> bytes:
    if flate:
        packed = zlib.compress(content)
        return (
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed)
            + packed
            + (b"\nendstream")
        )
    return b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"


def _page_objects(
    text: bytes = b"Hello", *, flate: bool = False, catalog_extra: bytes = b""
) -> list[bytes]:
    content = b"BT /F1 24 Tf 72 720 Td (" + text + b") Tj ET"
    return [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R /JSans 5 0 R >> >> >>",
        _stream(content, flate=flate),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def pdfs() -> list[Sample]:
    first = hand_pdf(_page_objects())
    # An incremental update: a second body, xref and trailer appended after the first.
    update = (
        b"6 0 obj\n<< /Producer (Editor) >>\nendobj\nxref\n6 1\n%010d 00000 n\r\n" % len(first)
        + b"trailer\n<< /Size 7 /Root 1 0 R /Prev %d /Info 6 0 R >>\n" % first.index(b"xref")
        + b"startxref\n%d\n%%%%EOF\n" % (len(first) + 40)
    )
    multipage = io.BytesIO()
    _picture("RGB").save(
        multipage, "PDF", save_all=True, append_images=[_picture("L"), _picture("RGB")]
    )
    return [
        Sample("pdf-hand-1.4", first, PDF),
        Sample("pdf-hand-1.7-crlf", hand_pdf(_page_objects(), version=b"1.7", eol=b"\r\n"), PDF),
        Sample("pdf-hand-flate", hand_pdf(_page_objects(flate=True), version=b"1.5")),
        Sample("pdf-hand-2.0-no-binary-line", hand_pdf(_page_objects(), version=b"2.0",
                                                       binary_comment=False), "application/x-pdf"),
        Sample("pdf-hand-open-at-page", hand_pdf(
            _page_objects(catalog_extra=b"/OpenAction [3 0 R /Fit] /PageMode /UseNone "))),
        Sample("pdf-hand-trailing-whitespace", hand_pdf(_page_objects(), trailer_end=b"\r\n\r\n ")),
        Sample("pdf-incremental-update", first + update, PDF),
        Sample("pdf-pillow-image", _save(_picture("RGB"), "PDF"), PDF),
        Sample("pdf-pillow-multipage", multipage.getvalue()),
        Sample("pdf-large", hand_pdf(_page_objects(b"x" * 600_000, flate=False)), PDF),
    ]  # fmt: skip


def genuine() -> list[Sample]:
    return pngs() + jpegs() + pdfs()


def refused() -> list[Sample]:
    png = _save(_picture("RGB"), "PNG")
    jpeg = _save(_picture("RGB"), "JPEG")
    pdf = hand_pdf(_page_objects())
    html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
    svg = (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
        b"<script>alert(1)</script></svg>"
    )
    scripted_text = PngInfo()
    scripted_text.add_text("Comment", "<script>fetch('/api/v1/me')</script>")
    js = b"<< /S /JavaScript /JS (app.alert(1)) >>"
    return [
        Sample("png-declared-pdf", png, PDF),
        Sample("png-declared-jpeg", png, JPEG),
        Sample("jpeg-declared-png", jpeg, PNG),
        Sample("pdf-declared-png", pdf, PNG),
        Sample("html-declared-pdf", html, PDF),
        Sample("html-undeclared", html),
        Sample("svg-with-script", svg, "image/svg+xml"),
        Sample("svg-with-script-declared-png", svg, PNG),
        Sample("pdf-truncated", pdf[: len(pdf) // 2], PDF),
        Sample("pdf-truncated-before-eof", pdf[: pdf.rindex(b"%%EOF")], PDF),
        Sample("png-truncated", png[:-20], PNG),
        Sample("jpeg-truncated", jpeg[: len(jpeg) - 100], JPEG),
        Sample("zero-bytes", b"", PDF),
        Sample("zero-bytes-undeclared", b""),
        Sample("polyglot-png-then-html", png + html, PNG),
        Sample("polyglot-png-text-chunk-script", _save(_picture("RGB"), "PNG",
                                                       pnginfo=scripted_text), PNG),
        Sample("polyglot-jpeg-comment-html", _save(_picture("RGB"), "JPEG",
                                                   comment=b"<html><body>hi</body></html>")),
        Sample("polyglot-jpeg-php", _save(_picture("RGB"), "JPEG",
                                          comment=b"<?php system($_GET['c']); ?>")),
        Sample("polyglot-pdf-html", hand_pdf(_page_objects(b"<html><script>alert(1)</script>"))),
        Sample("pdf-javascript-open-action", hand_pdf(
            [*_page_objects(catalog_extra=b"/OpenAction 6 0 R "), js]), PDF),
        Sample("pdf-javascript-escaped-name", hand_pdf(
            [*_page_objects(catalog_extra=b"/OpenAction 6 0 R "),
             b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>"]), PDF),
        Sample("pdf-launch-action", hand_pdf(
            [*_page_objects(catalog_extra=b"/OpenAction 6 0 R "),
             b"<< /S /Launch /F (cmd.exe) >>"]), PDF),
        Sample("gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04"
               b"\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"),
        Sample("zip-declared-pdf", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40, PDF),
        Sample("windows-executable", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200),
        Sample("plain-text-declared-pdf", b"Just some text that claims to be a PDF.\n", PDF),
        Sample("eicar", EICAR),
        Sample("pdf-header-late", b"\n\n" + pdf, PDF),
    ]  # fmt: skip
