"""Documents: what a resident attaches to an application and what an officer hands back.

The parts here are independent of HTTP so the endpoints stay thin:

- `detect`: the content type decided by the bytes (magic and structure), never by the name;
- `storage`: one streaming `DocumentStore` interface with PostgreSQL and S3 backends;
- `scanning`: ClamAV's clamd over its INSTREAM protocol;
- `models`: the `documents` metadata table and the PostgreSQL backend's `document_chunks`;
- `settings`: the `DOCUMENTS_*` and `CLAMD_*` variables.
"""
