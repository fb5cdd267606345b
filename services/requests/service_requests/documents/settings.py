"""The documents' settings, a mixin for RequestsSettings (environment variables
`DOCUMENTS_*` and `CLAMD_*`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
MIB = 1024 * 1024


class DocumentSettings(BaseSettings):
    """Mixed into RequestsSettings; usable alone (tests, tools) with the same config."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    # PostgreSQL (the service's own database) keeps documents with the requests: one
    # backup, one transaction log. S3 is for deployments whose documents outgrow it.
    documents_storage: Literal["postgres", "s3"] = "postgres"
    documents_allowed_types: frozenset[str] = frozenset({PDF, JPEG, PNG})
    documents_max_file_bytes: int = Field(default=10 * MIB, ge=1)
    documents_max_request_bytes: int = Field(default=30 * MIB, ge=1)
    # Row size of `document_chunks`: large enough that a 10 MiB file is 40 rows, small
    # enough that a reader or writer holds one in memory at a time.
    documents_chunk_bytes: int = Field(default=256 * 1024, ge=4096, le=16 * MIB)
    # Uploads never attached to a request are removed after this long.
    documents_unattached_ttl_hours: float = Field(default=24.0, gt=0)

    # Unset means AWS itself (the region's endpoint); any S3-compatible server otherwise.
    documents_s3_endpoint: str | None = None
    documents_s3_bucket: str = "portal-documents"
    documents_s3_access_key: SecretStr | None = None
    documents_s3_secret_key: SecretStr | None = None
    documents_s3_region: str = "us-east-1"
    # Objects are stored under this prefix, then a random uuid4.
    documents_s3_prefix: str = "documents/"
    # S3 refuses multipart parts under 5 MiB (except the last); this is also the most an
    # upload buffers in memory.
    documents_s3_part_bytes: int = Field(default=5 * MIB, ge=5 * MIB, le=512 * MIB)
    # Tests and `make run` start an empty server; production provisions the bucket.
    documents_s3_create_bucket: bool = False

    # tcp://host:port of ClamAV's clamd; unset means no scanning.
    clamd_url: str | None = None
    clamd_timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _s3_is_complete(self) -> DocumentSettings:
        if self.documents_storage == "s3":
            missing = [
                name
                for name, value in (
                    ("DOCUMENTS_S3_ACCESS_KEY", self.documents_s3_access_key),
                    ("DOCUMENTS_S3_SECRET_KEY", self.documents_s3_secret_key),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"DOCUMENTS_STORAGE=s3 needs {', '.join(missing)}")
        return self
