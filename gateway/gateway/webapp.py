"""The web app's built files, served by the gateway at `/` (an ASGI responder, no framework).

`make web` builds `web/` into `web/dist`; the gateway serves that folder (or `WEB_APP_DIR`)
for the paths no route claims. Only the files found by walking the folder can be served:
a request path is looked up in that table, never joined onto the folder, so no path can
reach outside it. A path that names no file but looks like one of the app's own routes
(`/callback`, `/requests/...`: no dot in its last segment, not under `/api` or `/auth`) gets
`index.html` when the browser asks for HTML, and the app's router takes over there.

Vite names what it builds under `assets/` by content hash, so those files are cached for a
year as immutable; `index.html` is revalidated on every load (`no-cache` with an ETag), so a
new build reaches every browser at its next visit. The page may load nothing from another
origin: `default-src 'self'` with no inline script or style.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.types import Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'none'"
)
IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
SHORT = b"public, max-age=3600"
# Paths that belong to the API, never to the app: an unknown one stays a 404 problem.
NOT_APP = ("/api", "/auth")
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".json", ".map", ".svg", ".txt", ".webmanifest")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "web" / "dist"


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    gzipped: bytes | None
    content_type: bytes
    etag: bytes
    cache_control: bytes


def _load(path: Path, relative: str) -> StaticFile:
    body = path.read_bytes()
    suffix = path.suffix.lower()
    content_type = TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
    gzipped = None
    if suffix in COMPRESSIBLE and len(body) > 512:
        gzipped = gzip.compress(body, 9, mtime=0)
    if relative.startswith("assets/"):
        cache = IMMUTABLE
    elif relative == "index.html":
        cache = REVALIDATE
    else:
        cache = SHORT
    return StaticFile(
        body=body,
        gzipped=gzipped,
        content_type=(content_type or "application/octet-stream").encode(),
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"'.encode(),
        cache_control=cache,
    )


class WebApp:
    """The files of one built folder, read once and re-read when the build changes."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._stamp: float | None = None
        self._files: dict[str, StaticFile] = {}

    @classmethod
    def configured(cls, directory: Path | None) -> WebApp | None:
        """The folder from `WEB_APP_DIR`, else the repository's `web/dist` when it exists."""
        chosen = directory if directory is not None else DEFAULT_DIR
        if directory is None and not (chosen / "index.html").is_file():
            return None
        return cls(chosen)

    def _table(self) -> dict[str, StaticFile]:
        index = self.root / "index.html"
        try:
            stamp = index.stat().st_mtime
        except OSError:
            self._files, self._stamp = {}, None
            return self._files
        if stamp != self._stamp:
            files: dict[str, StaticFile] = {}
            for path in sorted(self.root.rglob("*")):
                # A symlink could point anywhere: only the folder's own files are served.
                if path.is_file() and not path.is_symlink():
                    relative = path.relative_to(self.root).as_posix()
                    files["/" + relative] = _load(path, relative)
            self._files, self._stamp = files, stamp
        return self._files

    def find(self, method: str, path: str, accept: bytes = b"text/html") -> StaticFile | None:
        if method not in ("GET", "HEAD"):
            return None
        files = self._table()
        found = files.get("/index.html" if path == "/" else path)
        if found is not None:
            return found
        if path in NOT_APP or path.startswith(tuple(p + "/" for p in NOT_APP)):
            return None
        if "." in path.rsplit("/", 1)[-1]:
            return None  # a missing file, not a page of the app
        if b"text/html" not in accept:
            # Only a page load (a browser asks for HTML) gets the app; an API client that
            # mistyped a path still gets the 404 problem it can read.
            return None
        return files.get("/index.html")

    async def serve(self, scope: Scope, send: Send) -> bool:
        """Answer the request if it is the app's; False leaves it to the caller."""
        request_headers = dict(scope["headers"])
        found = self.find(scope["method"], scope["path"], request_headers.get(b"accept", b""))
        if found is None:
            return False
        headers = [
            (b"content-type", found.content_type),
            (b"cache-control", found.cache_control),
            (b"etag", found.etag),
            (b"content-security-policy", CSP.encode()),
            (b"vary", b"accept-encoding"),
        ]
        if request_headers.get(b"if-none-match") == found.etag:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        body = found.body
        if found.gzipped is not None and b"gzip" in request_headers.get(b"accept-encoding", b""):
            body = found.gzipped
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["method"] == "HEAD":
            body = b""
        await send({"type": "http.response.body", "body": body})
        return True
