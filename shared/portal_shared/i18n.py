"""The caller's language for problems, and the message catalogs they are written from.

Every process answers errors in Kazakh (the state language, and the default), Russian or
English, chosen by the request's `Accept-Language` (RFC 9110 section 12.5.4: q-values,
`kk-KZ` is Kazakh, `*` is any). The texts are data, one JSON file per language in
`messages/`, keyed by a dotted name; a text may name parameters as `{name}` (str.format
fields), and every language must use the same ones (shared/tests checks it). JSON files
rather than gettext: the catalogs are small, translators edit them as plain data, and
nothing has to be compiled or installed beside the package.

A `Message` is a text chosen before the caller's language is known (what a check found, a
violation in a problem's `errors`); it is worded when the answer is written. A parameter
may itself be a `Message`, so a sentence can hold a reason worded in the same language.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Message",
    "catalog",
    "negotiate",
    "placeholders",
    "preferred",
    "translate",
]

LANGUAGES: tuple[str, ...] = ("kk", "ru", "en")
DEFAULT_LANGUAGE = "kk"
_MESSAGES = Path(__file__).with_name("messages")
# A hostile header could list thousands of ranges; the first few decide in practice.
_MAX_RANGES = 20


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def preferred(header: str | None) -> str | None:
    """The one of LANGUAGES an Accept-Language value names with the highest q (the first
    listed on a tie), or None when it names none of them (`*` names none in particular)."""
    if not header:
        return None
    best: str | None = None
    best_q = 0.0
    for item in header.split(",")[:_MAX_RANGES]:
        tag, *params = item.strip().split(";")
        language = tag.strip().lower().split("-", 1)[0]
        q = _quality(params)
        if language in LANGUAGES and q > best_q:
            best, best_q = language, q
    return best


def negotiate(header: str | None) -> str:
    """The best of LANGUAGES for an Accept-Language value; Kazakh when none fits."""
    return preferred(header) or DEFAULT_LANGUAGE


@cache
def catalog(language: str) -> Mapping[str, str]:
    """Every text of one language, keyed by name (read once per process)."""
    path = _MESSAGES / f"{language}.json"
    texts: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return texts


def placeholders(text: str) -> set[str]:
    """The `{name}` fields a text uses."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@dataclass(frozen=True)
class Message:
    """The catalog text `key` with `params`, not yet put into a language."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def in_language(self, language: str) -> str:
        return translate(language, self.key, self.params)

    def __str__(self) -> str:
        # English, as logs and the English detail of an error read it.
        return self.in_language("en")


def translate(
    language: str,
    key: str,
    params: Mapping[str, Any] | None = None,
    *,
    default: str | None = None,
) -> str:
    """The text `key` in `language` with `params` filled in (a `Message` among them worded in
    `language` too); `default` (else the English text, else the key) when the language has
    no such text or a parameter is missing."""
    texts = catalog(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    text = texts.get(key)
    if text is None:
        if default is not None:
            return default
        text = catalog("en").get(key, key)
    values = {
        name: value.in_language(language) if isinstance(value, Message) else value
        for name, value in (params or {}).items()
    }
    try:
        return text.format_map(values)
    except (KeyError, IndexError, ValueError):
        return default if default is not None else text
