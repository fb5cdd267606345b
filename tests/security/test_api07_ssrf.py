"""API7:2023 Server side request forgery: the one place where the portal takes a URL from a
caller is a form schema's references; none of them is ever fetched."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.fuzz.bodies import FORM_SCHEMA, service_body
from tests.fuzz.portal import World


class Trap:
    """A local HTTP server that counts every request the portal might make to it."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"type": "string"}')

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.hits = hits
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def trap() -> Iterator[Trap]:
    trap = Trap()
    trap.thread.start()
    yield trap
    trap.server.shutdown()
    trap.server.server_close()


def remote_schemas(url: str) -> dict[str, dict[str, object]]:
    return {
        "$ref": {**FORM_SCHEMA, "properties": {"x": {"$ref": f"{url}/ref.json"}}},
        "$dynamicRef": {**FORM_SCHEMA, "properties": {"x": {"$dynamicRef": f"{url}/dyn.json"}}},
        "$id base": {
            **FORM_SCHEMA,
            "$id": f"{url}/base.json",
            "properties": {"x": {"$ref": "x.json"}},
        },
        "$schema": {**FORM_SCHEMA, "$schema": f"{url}/meta.json"},
    }


def test_remote_references_in_form_schemas_are_refused_unfetched(
    catalog: httpx.Client, world: World, people: dict[str, dict[str, str]], trap: Trap
) -> None:
    for n, (name, schema) in enumerate(remote_schemas(trap.url).items()):
        body = service_body(f"ssrf-{n}", world.agency_id, form_schema=schema)
        response = catalog.post("/api/v1/services", json=body, headers=people["admin"])
        assert response.status_code == 422, f"{name}: {response.text}"
    assert trap.hits == [], "the catalog fetched a URL it was given"
