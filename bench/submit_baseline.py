"""The submission benchmark's floor: a bare FastAPI POST doing one PostgreSQL transaction.

`python -m bench.submit_baseline PORT` (with `DATABASE_URL`) serves `POST /submit`: one
asyncpg transaction inserting a row and an outbox row, as INFRA.md's baseline, on one
uvicorn worker with uvloop and httptools, the way the services run. No ORM, no token,
no validation: what is left when the portal's own work is taken away.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Request

from portal_shared.db import asyncpg_dsn

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (id uuid PRIMARY KEY, body jsonb NOT NULL,
                                  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS outbox (id bigserial PRIMARY KEY, topic text NOT NULL,
                                   key text NOT NULL, payload jsonb NOT NULL,
                                   created_at timestamptz NOT NULL DEFAULT now());
"""

pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global pool
    # The same pool size as the services' default (DATABASE_POOL_SIZE=10).
    pool = await asyncpg.create_pool(asyncpg_dsn(os.environ["DATABASE_URL"]), max_size=10)
    async with pool.acquire() as conn:
        await conn.execute(SCHEMA)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/submit", status_code=201)
async def submit(request: Request) -> dict[str, Any]:
    body = await request.json()
    item = uuid.uuid4()
    assert pool is not None
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO items (id, body) VALUES ($1, $2::jsonb)", item, json.dumps(body)
        )
        await conn.execute(
            "INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3::jsonb)",
            "bench.item",
            str(item),
            json.dumps({"id": str(item)}),
        )
    return {"id": str(item)}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )
