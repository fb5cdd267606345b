"""Typed errors of documents; portal_shared renders them as problem+json."""

from __future__ import annotations

from portal_shared.errors import AppError, PayloadTooLarge, ServiceUnavailable, ValidationFailed


class UnsupportedDocumentType(AppError):
    """The content is not an allowed type, contradicts the declared type, or is unsafe
    (a truncated file, active content, a polyglot)."""

    status = 415
    slug = "unsupported-document-type"
    title = "Document type not accepted"


class DocumentTooLarge(PayloadTooLarge):
    slug = "document-too-large"
    title = "Document too large"


class EmptyDocument(ValidationFailed):
    slug = "empty-document"
    title = "The document is empty"


class DocumentInfected(ValidationFailed):
    slug = "document-infected"
    title = "The document contains malware"


class ScannerUnavailable(ServiceUnavailable):
    """The malware scanner could not give a verdict: the document is never taken as clean."""

    slug = "scanner-unavailable"
    title = "The malware scanner is unavailable"


class DocumentIntegrityError(AppError):
    """The stored bytes no longer match the SHA-256 taken when they arrived; they are
    never sent, and the failure is logged as an integrity alarm."""

    status = 500
    slug = "document-integrity-failure"
    title = "Stored document failed its integrity check"


class UploadMalformed(AppError):
    """Not a `multipart/form-data` body this endpoint can read."""

    status = 400
    slug = "upload-malformed"
    title = "Malformed upload"


class UploadFileMissing(ValidationFailed):
    slug = "upload-file-missing"
    title = "The upload has no file part"


class UploadTooLarge(PayloadTooLarge):
    """The whole request body is past DOCUMENTS_MAX_REQUEST_BYTES."""

    slug = "upload-too-large"
    title = "Upload too large"
