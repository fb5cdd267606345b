"""HTTP endpoints of documents: upload (streamed), metadata, content (with Range), and the
documents attached to a request. Thin handlers over documents_service."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from portal_shared.auth import Principal
from portal_shared.errors import Forbidden, Unauthorized, problem_responses
from service_requests import documents_service
from service_requests.access import DocumentReaderDep, DocumentWriterDep, ReaderDep
from service_requests.deps import SessionDep
from service_requests.documents.errors import (
    DocumentInfected,
    DocumentIntegrityError,
    DocumentTooLarge,
    EmptyDocument,
    ScannerUnavailable,
    UnsupportedDocumentType,
    UploadFileMissing,
    UploadMalformed,
    UploadTooLarge,
)
from service_requests.documents.multipart import FormUpload
from service_requests.documents_service import (
    DocumentNotFound,
    Documents,
    RangeNotSatisfiable,
    parse_range,
)
from service_requests.errors import RequestNotFound
from service_requests.schemas import DocumentList, DocumentRead

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])
request_documents_router = APIRouter(prefix="/api/v1/requests", tags=["requests"])


async def _documents(request: Request) -> Documents:
    documents: Documents = request.app.state.documents
    return documents


async def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


async def _uploader(
    principal: DocumentWriterDep,
) -> Principal:
    if principal.account_id is None:
        raise Forbidden(message_key="error.upload-needs-person")
    return principal


DocumentsDep = Annotated[Documents, Depends(_documents)]
EngineDep = Annotated[AsyncEngine, Depends(_engine)]
UploaderDep = Annotated[Principal, Depends(_uploader)]


@router.post(
    "",
    status_code=201,
    summary="Upload a document (multipart/form-data, one part `file`)",
    description=(
        "The type is decided by the content (PDF, JPEG, PNG by default); a declared part "
        "type the content contradicts is 415. The body is read as it arrives: 413 at the "
        "first byte past the per-file or per-request limit. The file name is display text."
    ),
    responses=problem_responses(
        UploadMalformed,
        Unauthorized,
        Forbidden,
        UploadTooLarge,
        DocumentTooLarge,
        UnsupportedDocumentType,
        UploadFileMissing,
        EmptyDocument,
        DocumentInfected,
        ScannerUnavailable,
    ),
)
async def upload_document(
    request: Request,
    uploader: UploaderDep,
    documents: DocumentsDep,
    engine: EngineDep,
    response: Response,
) -> DocumentRead:
    limit = documents.settings.documents_max_request_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise UploadTooLarge(
            message_key="error.upload-too-large", params={"limit": limit}, max_size=limit
        )
    form = FormUpload(request.stream(), request.headers.get("content-type"), max_request=limit)
    owner_id = uploader.account_id
    if owner_id is None:  # _uploader refused it; this tells the type checker
        raise Forbidden(message_key="error.upload-needs-person")
    read = await documents_service.upload(engine, documents, owner_id, form)
    response.headers["Location"] = f"{router.prefix}/{read.id}"
    return read


@router.get(
    "/{document_id}",
    summary="A document's metadata",
    responses=problem_responses(Unauthorized, DocumentNotFound),
)
async def get_document(
    document_id: UUID, session: SessionDep, principal: DocumentReaderDep
) -> DocumentRead:
    document = await documents_service.visible_document(session, principal, document_id)
    return documents_service.document_read(document)


def _disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback and the UTF-8 name."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/{document_id}/content",
    summary="A document's bytes (Range requests allowed)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the document's bytes, typed as they were when checked on upload",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        206: {
            "description": "the requested range",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        416: {"description": "the range lies outside the document"},
        **problem_responses(Unauthorized, DocumentNotFound, DocumentIntegrityError),
    },
)
async def document_content(
    document_id: UUID,
    session: SessionDep,
    principal: DocumentReaderDep,
    documents: DocumentsDep,
    range_header: Annotated[str | None, Header(alias="Range", max_length=200)] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", max_length=1024)] = None,
) -> Response:
    document = await documents_service.visible_document(session, principal, document_id)
    tag = f'"{document.sha256}"'
    headers = {
        "ETag": tag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": _disposition(document.filename),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
    }
    if if_none_match is not None and tag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    try:
        byte_range = parse_range(range_header, document.size)
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{document.size}"
        return Response(status_code=416, headers=headers)
    stored = documents_service.stored_object(document)
    # Verified before the status line: a damaged document is a problem, never its bytes.
    body = await documents.store.open(stored, byte_range)
    status = 200
    length = document.size
    if byte_range is not None:
        start, stop = byte_range.resolve(document.size)
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{document.size}"
        length = stop - start
        status = 206
    headers["Content-Length"] = str(length)
    return StreamingResponse(
        body, status_code=status, media_type=document.content_type, headers=headers
    )


@request_documents_router.get(
    "/{request_id}/documents",
    summary="The documents attached to a request (its result included, code `result`)",
    responses=problem_responses(Unauthorized, Forbidden, RequestNotFound),
)
async def list_request_documents(
    request_id: UUID, session: SessionDep, principal: ReaderDep
) -> DocumentList:
    return await documents_service.request_documents(session, principal, request_id)
