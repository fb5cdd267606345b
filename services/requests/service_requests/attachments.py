"""Attaching uploaded documents to a request: the rules a service version sets for each
`required_documents[]` kind, checked over the documents' rows, and the statements that
attach them.

`check` is pure (the rows are read by the caller: the asyncpg submission or the ORM
session of resubmit and complete), so one set of rules serves every path. Every
violation is listed, each with its location in the body (`documents[1].document_id`), and
the missing codes are named. The attaching UPDATE takes only rows still unattached and
owned by the caller, so of two submissions racing for one document, one attaches it and
the other is refused in its own transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from portal_shared.errors import ValidationFailed
from portal_shared.i18n import Message, translate
from service_requests.schemas import AttachDocument, DocumentKind

RESULT_CODE = "result"

# The columns `check` reads, for both the asyncpg and the SQLAlchemy paths.
CANDIDATES = (
    "SELECT id, owner_id, content_type, size, status, attached_request_id, attached_code"
    " FROM documents WHERE id = ANY($1::uuid[])"
)
# $1 request, $2 owner, $3 document ids, $4 their codes (same order).
ATTACH = """
UPDATE documents d SET attached_request_id = $1, attached_code = g.code
FROM unnest($3::uuid[], $4::text[]) AS g(id, code)
WHERE d.id = g.id AND d.owner_id = $2 AND d.attached_request_id IS NULL AND d.status = 'clean'
RETURNING d.id
"""


class DocumentsInvalid(ValidationFailed):
    """Documents that break the service's rules; the detail's `{summary}` is the first of
    its `errors`, worded in the caller's language."""

    slug = "documents-invalid"
    title = "The documents do not meet the service's requirements"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.detail = self.detail_in("en")

    def detail_in(self, language: str) -> str:
        errors = self.extra_in(language).get("errors", [])
        summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
        key = self.message_key or "error.documents-invalid"
        return translate(language, key, {**self.params, "summary": summary})


@dataclass(frozen=True)
class Candidate:
    """A `documents` row as the rules see it."""

    id: UUID
    owner_id: UUID
    content_type: str
    size: int
    status: str
    attached_request_id: UUID | None
    attached_code: str | None = None

    @classmethod
    def of(cls, row: Any) -> Candidate:
        """From an asyncpg record or a SQLAlchemy row mapping."""
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


def kinds_of(required_documents: Iterable[Mapping[str, Any]]) -> list[DocumentKind]:
    return [DocumentKind.model_validate(d) for d in required_documents]


def check(
    kinds: Sequence[DocumentKind],
    given: Sequence[AttachDocument],
    found: Mapping[UUID, Candidate],
    *,
    owner_id: UUID,
    kept: Mapping[str, int] | None = None,
    request_id: UUID | None = None,
) -> None:
    """Refuse (422, every violation listed) documents `given` for a request of `kinds`.

    `kept` counts the documents per code already attached that stay (a resubmission);
    `request_id` is the request they may already be attached to (so resubmitting the
    same document is not "attached elsewhere")."""
    by_code = {k.code: k for k in kinds}
    errors: list[dict[str, str | Message]] = []
    counts: Counter[str] = Counter(kept or {})
    seen: set[UUID] = set()
    for n, item in enumerate(given):
        at = f"documents[{n}]"
        kind = by_code.get(item.code)
        if kind is None:
            known = ", ".join(sorted(by_code))
            message = (
                Message("validation.document-code", {"known": known})
                if known
                else Message("validation.document-no-codes")
            )
            errors.append({"location": f"{at}.code", "message": message})
            continue
        counts[item.code] += 1
        document = found.get(item.document_id)
        problem = _problem(document, kind, owner_id, request_id, item.document_id in seen)
        seen.add(item.document_id)
        if problem:
            errors.append({"location": f"{at}.document_id", "message": problem})
    for code, count in sorted(counts.items()):
        kind = by_code.get(code)
        if kind is not None and count > kind.max_count:
            count_message = Message(
                "validation.document-count", {"code": code, "limit": kind.max_count}
            )
            errors.append({"location": "documents", "message": count_message})
    missing = [k.code for k in kinds if not k.optional and counts[k.code] == 0]
    codes = ", ".join(missing)
    if missing:
        errors.append(
            {
                "location": "documents",
                "message": Message("validation.documents-missing", {"codes": codes}),
            }
        )
    if errors:
        raise DocumentsInvalid(
            message_key="error.documents-missing" if missing else "error.documents-invalid",
            params={"missing": codes},
            errors=errors,
            missing=missing,
        )


def _problem(
    document: Candidate | None,
    kind: DocumentKind,
    owner_id: UUID,
    request_id: UUID | None,
    repeated: bool,
) -> Message | None:
    # Someone else's document reads exactly as one that does not exist.
    if document is None or document.owner_id != owner_id:
        return Message("validation.document-unknown")
    if repeated:
        return Message("validation.document-twice")
    if document.attached_request_id is not None and document.attached_request_id != request_id:
        return Message("validation.document-attached")
    if document.status != "clean":
        return Message("validation.document-not-clean", {"status": document.status})
    if kind.content_types is not None and document.content_type not in kind.content_types:
        allowed = ", ".join(kind.content_types)
        return Message(
            "validation.document-type", {"type": document.content_type, "allowed": allowed}
        )
    if kind.max_size_bytes is not None and document.size > kind.max_size_bytes:
        return Message("validation.document-size", {"limit": kind.max_size_bytes})
    return None


def result_problem(document: Candidate | None, owner_id: UUID | None) -> None:
    """The result of `complete`: a clean, unattached document the officer uploaded."""
    message = None
    if document is None or document.owner_id != owner_id:
        message = Message("validation.document-unknown")
    elif document.attached_request_id is not None:
        message = Message("validation.document-attached")
    elif document.status != "clean":
        message = Message("validation.document-not-clean", {"status": document.status})
    if message:
        raise DocumentsInvalid(
            message_key="error.documents-invalid",
            errors=[{"location": "result_document_id", "message": message}],
        )


# The same statements for the ORM session (resubmit, complete), in SQLAlchemy's parameters.
_CANDIDATES_ORM = sa.text(
    "SELECT id, owner_id, content_type, size, status, attached_request_id, attached_code"
    " FROM documents WHERE id = ANY(CAST(:ids AS uuid[]))"
)
_ATTACHED = sa.text(
    "SELECT id, owner_id, content_type, size, status, attached_request_id, attached_code"
    " FROM documents WHERE attached_request_id = :request FOR UPDATE"
)


async def load(session: AsyncSession, ids: Iterable[UUID]) -> dict[UUID, Candidate]:
    rows = (await session.execute(_CANDIDATES_ORM, {"ids": list(ids)})).mappings().all()
    return {row["id"]: Candidate.of(row) for row in rows}


async def attached_to(session: AsyncSession, request_id: UUID) -> list[Candidate]:
    rows = (await session.execute(_ATTACHED, {"request": request_id})).mappings().all()
    return [Candidate.of(row) for row in rows]


async def attach(
    session: AsyncSession, request_id: UUID, owner_id: UUID, items: Sequence[tuple[UUID, str]]
) -> None:
    """Attach checked documents (id, code); DocumentsInvalid if one was taken meanwhile."""
    for document_id, code in items:
        done = await session.execute(
            sa.text(
                "UPDATE documents SET attached_request_id = :request, attached_code = :code"
                " WHERE id = :id AND owner_id = :owner AND status = 'clean'"
                " AND (attached_request_id IS NULL OR attached_request_id = :request)"
                " RETURNING id"
            ),
            {"request": request_id, "code": code, "id": document_id, "owner": owner_id},
        )
        if done.first() is None:
            raise DocumentsInvalid(
                message_key="error.document-taken",
                errors=[
                    {"location": "documents", "message": Message("validation.document-attached")}
                ],
            )


async def detach(session: AsyncSession, ids: Sequence[UUID]) -> None:
    """Replaced documents go back to unattached: the cleanup removes them after the TTL."""
    if ids:
        await session.execute(
            sa.text(
                "UPDATE documents SET attached_request_id = NULL, attached_code = NULL"
                " WHERE id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": list(ids)},
        )


async def resubmit(
    session: AsyncSession,
    request_id: UUID,
    owner_id: UUID,
    required_documents: Iterable[Mapping[str, Any]],
    given: Sequence[AttachDocument],
) -> None:
    """Add documents to a request, a code given replacing that code's documents."""
    current = [d for d in await attached_to(session, request_id) if d.attached_code != RESULT_CODE]
    replaced = {d.code for d in given}
    given_ids = {d.document_id for d in given}
    kept = Counter(
        str(d.attached_code)
        for d in current
        if d.attached_code not in replaced and d.id not in given_ids
    )
    found = await load(session, given_ids)
    check(
        kinds_of(required_documents),
        given,
        found,
        owner_id=owner_id,
        kept=kept,
        request_id=request_id,
    )
    await detach(
        session, [d.id for d in current if d.attached_code in replaced and d.id not in given_ids]
    )
    await attach(session, request_id, owner_id, [(d.document_id, d.code) for d in given])


async def attach_result(
    session: AsyncSession, request_id: UUID, officer_id: UUID | None, document_id: UUID
) -> None:
    """The officer's own clean, unattached upload becomes the request's result."""
    # An agency system (no account) uploads nothing: no document is ever its own.
    document = (await load(session, [document_id])).get(document_id) if officer_id else None
    result_problem(document, officer_id)
    if officer_id is None:  # refused above; this tells the type checker
        return
    await attach(session, request_id, officer_id, [(document_id, RESULT_CODE)])
