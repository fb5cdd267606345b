"""A tiny real upstream for the gateway's tests: it echoes what reached it.

Run as `python upstream_app.py PORT`. It answers any path with what it received
(method, path, query, headers, body size), and has a few special paths: `/slow`
never answers in time, `/download?size=N` streams N bytes, `/auth/jwks` serves
the JWKS given in `JWKS_JSON`, and `/openapi.json`/`/asyncapi.json`
describe a service named by `SERVICE_NAME`. `/page` is an HTML page with its own
security headers. `/boom` answers 500 and `/then-close` 200, both as keep-alive,
then fail slowly (the process is busy for half a second, as when it logs a long
traceback) and raise, so uvicorn closes the connection it has just offered for reuse.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.types import Receive, Scope, Send

NAME = os.environ.get("SERVICE_NAME", "echo")


def _openapi() -> dict[str, Any]:
    shared = {"type": "object", "properties": {"detail": {"type": "string"}}}
    own = {"type": "object", "properties": {NAME: {"type": "string"}}}
    ref = {"$ref": "#/components/schemas/Thing"}
    return {
        "openapi": "3.1.0",
        "info": {"title": NAME, "version": "1"},
        "paths": {
            f"/api/v1/{NAME}": {
                "get": {
                    "operationId": "list_things",
                    "responses": {"200": {"content": {"application/json": {"schema": ref}}}},
                }
            },
            "/internal/only": {"get": {"responses": {"200": {"description": "hidden"}}}},
        },
        "components": {"schemas": {"Problem": shared, "Thing": own}},
    }


def _asyncapi() -> dict[str, Any]:
    return {
        "asyncapi": "3.0.0",
        "info": {"title": NAME, "version": "1"},
        "channels": {f"{NAME}_thing": {"address": f"{NAME}.thing", "messages": {}}},
        "operations": {},
        "components": {"messages": {}, "schemas": {}},
    }


async def _json(send: Send, status: int, payload: Any) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"x-upstream", NAME.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    if path.endswith("/slow"):
        await asyncio.sleep(60)
    if path.endswith("/download"):
        size = int(parse_qs(scope["query_string"].decode())["size"][0])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = b"x" * 65536
        while size > 0:
            piece = chunk[: min(size, len(chunk))]
            size -= len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/auth/jwks":
        await _json(send, 200, json.loads(os.environ.get("JWKS_JSON", '{"keys": []}')))
        return
    if path == "/openapi.json":
        await _json(send, 200, _openapi())
        return
    if path == "/asyncapi.json":
        await _json(send, 200, _asyncapi())
        return
    if path == "/readyz":
        await _json(send, 200, {"status": "ready"})
        return
    if path.endswith("/page"):
        page = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": page})
        await send({"type": "http.response.body", "body": b"<!doctype html><p>sign in</p>"})
        return
    if path.endswith(("/boom", "/then-close")):
        await _json(send, 500 if path.endswith("/boom") else 200, {"failing": True})
        # Blocks the loop on purpose: the next request on this connection arrives
        # meanwhile, unread, and uvicorn then closes the connection under it.
        time.sleep(0.5)  # noqa: ASYNC251
        raise RuntimeError("the endpoint failed after answering")
    size = 0
    chunks = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        chunks += 1
        if not message.get("more_body", False):
            break
    headers = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]]
    await _json(
        send,
        200,
        {
            "service": NAME,
            "method": scope["method"],
            "path": path,
            "query": scope["query_string"].decode("latin-1"),
            "headers": headers,
            "body_bytes": size,
        },
    )


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
        loop="uvloop", http="httptools",
    )  # fmt: skip
