"""How a read is represented: one language for flat-string clients, and HTTP caching.

`?lang=` (or else the best of kk, ru, en in Accept-Language) turns every
`{kk, ru, en}` object into that language's string; without either the full
objects are returned. Every read carries a strong ETag computed from the exact
body, so a conditional GET answers 304 whatever the language or page.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from catalog.formschema import localize_form_schema
from catalog.schemas import Lang
from portal_shared.i18n import preferred
from portal_shared.preconditions import etag, if_none_match_hits

_KNOWN: dict[str, Lang] = {"kk": "kk", "ru": "ru", "en": "en"}
PUBLIC_CACHE = "public, max-age=60"
# Admins see drafts: nothing shared may keep their answers.
PRIVATE_CACHE = "private, no-cache"


def choose_language(lang: Lang | None, accept_language: str | None) -> Lang | None:
    """`?lang=`, else the language Accept-Language prefers (the one negotiation every
    process uses, portal_shared.i18n), else None: the full `{kk, ru, en}` objects."""
    if lang is not None:
        return lang
    return _KNOWN.get(preferred(accept_language) or "")


def flatten(item: dict[str, Any], lang: str) -> dict[str, Any]:
    """One service (as JSON) with each localized text reduced to `lang`."""
    out = dict(item)
    for key in ("name", "description", "result"):
        out[key] = item[key][lang]
    out["required_documents"] = [
        {**doc, "name": doc["name"][lang]} for doc in item["required_documents"]
    ]
    out["refusal_grounds"] = [
        {**ground, "text": ground["text"][lang]} for ground in item["refusal_grounds"]
    ]
    out["form_schema"] = localize_form_schema(item["form_schema"], lang)
    return out


def conditional_json(
    request: Request,
    payload: Any,
    *,
    public: bool,
    lang: str | None = None,
    version: int | str | None = None,
) -> Response:
    """JSON with ETag and Cache-Control, or 304 when the client's copy is current.

    The ETag is `version` when the resource has one (a draft's revision), else a hash of
    the exact body.
    """
    body = orjson.dumps(payload)
    tag = version if version is not None else hashlib.sha256(body).hexdigest()[:32]
    headers = {
        "ETag": etag(tag),
        "Cache-Control": PUBLIC_CACHE if public else PRIVATE_CACHE,
        "Vary": "Accept-Language, Authorization",
    }
    if lang is not None:
        headers["Content-Language"] = lang
    if if_none_match_hits(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
