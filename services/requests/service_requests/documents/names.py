"""The uploaded file name, kept only as display text: never a path, never a storage name."""

from __future__ import annotations

import re
import unicodedata

MAX_FILENAME_CHARS = 200
DEFAULT_FILENAME = "document"
# Bidirectional overrides and isolates make `evil\u202egpj.exe` read as `evilexe.jpg`.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def display_filename(raw: str | None) -> str:
    """NFC, the last path component only, no control or bidi characters, whitespace
    collapsed, at most MAX_FILENAME_CHARS (the extension kept when it is short)."""
    if not raw:
        return DEFAULT_FILENAME
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    name = _BIDI.sub("", name)
    # Tabs and line breaks become spaces (they separate words); other controls go.
    name = re.sub(r"\s", " ", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    if not name:
        return DEFAULT_FILENAME
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name
