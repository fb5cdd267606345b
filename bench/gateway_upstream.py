"""The service the gateway benchmark calls: a bare FastAPI endpoint, as in INFRA.md's baseline.

`python -m bench.gateway_upstream PORT` serves `GET /api/v1/services/{id}` and
`GET /api/v1/requests/{id}` (small JSON), and `/auth/jwks` from `JWKS_JSON`, on
one uvicorn worker with uvloop and httptools, the way the services run.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

app = FastAPI()
JWKS: dict[str, Any] = json.loads(os.environ.get("JWKS_JSON", '{"keys": []}'))


@app.get("/api/v1/services/{item}")
async def service(item: str) -> dict[str, Any]:
    return {"id": item, "code": "BENCH", "status": "published", "version": 1}


@app.get("/api/v1/requests/{item}")
async def request(item: str) -> dict[str, Any]:
    return {"id": item, "number": "BKR-1", "status": "submitted", "version": 1}


@app.get("/auth/jwks")
async def jwks() -> dict[str, Any]:
    return JWKS


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
