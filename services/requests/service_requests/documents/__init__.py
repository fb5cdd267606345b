"""Documents: what a resident attaches to an application and what an officer hands back.

The parts here know nothing of HTTP, so the endpoints stay thin:

- `detect`: the content type decided by the bytes (magic, structure, safety), never by
  the name or the declared type; `names`: the file name as display text only;
- `storage`: the streaming `DocumentStore` (put with SHA-256 and size limit on the way
  in; open verifies before it returns an iterator; delete), with `postgres_store` and
  `s3_store` behind it and `backends.open_store(settings, engine)` choosing one;
- `scanning`: ClamAV's clamd over INSTREAM; clean, infected or error (never clean);
- `intake.take_in`: one pass over an upload through detect, scanning and storage;
- `lifecycle`: storage keys reserved before an upload, released with the row, and the
  cleanup of abandoned uploads and unattached documents;
- `models`: `documents`, `document_chunks`, `document_uploads`; `settings`:
  `DocumentSettings` (DOCUMENTS_*, CLAMD_*), mixed into RequestsSettings;
- `errors`: 415, 413, 422 (empty, infected), 503 (scanner), 500 (integrity).

An upload endpoint, in full: `key = begin_upload(...)`; `intake = take_in(part stream,
store=..., key=key, declared_type=part content type, ...)`; then in the request's
transaction insert the `documents` row (with `names.display_filename(part filename)`)
and `finish_upload(session, key)`. A download: load the row, check who may see it, then
`await store.open(StoredObject(row.storage_backend, row.storage_key, row.size,
row.sha256), ByteRange(...))` before the response starts.
"""
