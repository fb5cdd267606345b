"""Use cases of documents over HTTP's edges: upload, who may see a document, its content.

Upload, in the order `documents.lifecycle` sets: reserve a storage key (committed), take
the file part in through the checks, the scanner and the store (`intake.take_in`), read
the rest of the body, then insert the row and release the reservation in one
transaction. A refusal releases the reservation at once (take_in has removed the bytes);
a killed process leaves the reservation, and the cleanup removes its bytes.

Visibility: the uploader; once attached, the applicant and the responsible agency's
officers (access.sees_form, the rule for the application's contents); 404 for anyone
else, the same answer as for a document that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from portal_shared.auth import Principal
from portal_shared.errors import NotFound
from service_requests.access import sees_form
from service_requests.documents.intake import take_in
from service_requests.documents.lifecycle import begin_upload, finish_upload
from service_requests.documents.models import Document
from service_requests.documents.multipart import FormUpload
from service_requests.documents.names import display_filename
from service_requests.documents.scanning import ClamdScanner
from service_requests.documents.settings import DocumentSettings
from service_requests.documents.storage import ByteRange, DocumentStore, StoredObject
from service_requests.errors import RequestNotFound
from service_requests.models import ServiceRequest
from service_requests.schemas import DocumentList, DocumentRead


class DocumentNotFound(NotFound):
    slug = "document-not-found"
    title = "Document not found"


@dataclass(frozen=True)
class Documents:
    """What the app holds for documents: the store and the scanner (None: no scanning)."""

    store: DocumentStore
    scanner: ClamdScanner | None
    settings: DocumentSettings


def document_read(document: Document) -> DocumentRead:
    return DocumentRead(
        id=document.id,
        filename=document.filename,
        content_type=document.content_type,
        size=document.size,
        sha256=document.sha256,
        status=document.status,  # type: ignore[arg-type]  # one of DOCUMENT_STATUSES
        created_at=document.created_at,
        request_id=document.attached_request_id,
        code=document.attached_code,
    )


async def upload(
    engine: AsyncEngine, documents: Documents, owner_id: UUID, form: FormUpload
) -> DocumentRead:
    settings = documents.settings
    await form.open()
    key = await begin_upload(engine, documents.store.backend, now=datetime.now(UTC))
    try:
        intake = await take_in(
            form.data(),
            store=documents.store,
            allowed=settings.documents_allowed_types,
            max_size=settings.documents_max_file_bytes,
            declared_type=form.content_type,
            scanner=documents.scanner,
            key=key,
        )
    except BaseException:
        async with engine.begin() as conn:
            await finish_upload(conn, key)
        raise
    try:
        await form.drain()
    except BaseException:
        await documents.store.delete(key)
        async with engine.begin() as conn:
            await finish_upload(conn, key)
        raise
    document = Document(
        id=uuid4(),
        owner_id=owner_id,
        filename=display_filename(form.filename),
        content_type=intake.content_type,
        size=intake.stored.size,
        sha256=intake.stored.sha256,
        status="clean",  # take_in refused an infected file and an unscanned one
        storage_backend=intake.stored.backend,
        storage_key=intake.stored.key,
        created_at=datetime.now(UTC),
    )
    async with engine.begin() as conn:
        await conn.execute(sa.insert(Document).values(**document.model_dump()))
        await finish_upload(conn, key)
    return document_read(document)


async def visible_document(
    session: AsyncSession, principal: Principal, document_id: UUID
) -> Document:
    """The document if the caller may see it, else DocumentNotFound (404)."""
    found = (
        await session.execute(
            sa.select(Document, ServiceRequest)
            .outerjoin(ServiceRequest, col(ServiceRequest.id) == col(Document.attached_request_id))
            .where(col(Document.id) == document_id)
        )
    ).first()
    if found is not None:
        document, request = found
        if principal.account_id is not None and principal.account_id == document.owner_id:
            return document
        if request is not None and sees_form(
            principal, agency_id=request.agency_id, applicant_id=request.applicant_id
        ):
            return document
    raise DocumentNotFound(message_key="error.document-not-found", params={"id": document_id})


async def request_documents(
    session: AsyncSession, principal: Principal, request_id: UUID
) -> DocumentList:
    """What is attached to a request (its result included), for whoever sees its form."""
    request = await session.get(ServiceRequest, request_id)
    if request is None or not sees_form(
        principal, agency_id=request.agency_id, applicant_id=request.applicant_id
    ):
        raise RequestNotFound(message_key="error.request-not-found", params={"id": request_id})
    rows = (
        await session.execute(
            sa.select(Document)
            .where(col(Document.attached_request_id) == request_id)
            .order_by(col(Document.attached_code), col(Document.created_at))
        )
    ).scalars()
    return DocumentList(items=[document_read(d) for d in rows])


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """416: the range lies outside the document."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One `bytes=a-b`, `bytes=a-` or `bytes=-n` range; None (the whole document) when
    absent or not understood (RFC 9110 lets a server ignore Range, and several ranges)."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    end = int(last) if last else None
    if end is not None and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start, min(end, size - 1) if end is not None else size - 1)


def stored_object(document: Document) -> StoredObject:
    return StoredObject(
        document.storage_backend, document.storage_key, document.size, document.sha256
    )
