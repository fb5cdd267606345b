"""Write the gateway's merged OpenAPI document to a file, without starting any server.

The web app's TypeScript client is generated from the document the gateway serves at
`/openapi.json`. The gateway builds it by fetching each upstream's document and merging
them with `gateway.docs.merge_openapi`; here each upstream's FastAPI app is imported and
asked for its document instead, then merged by the same function with the same route
table, so the result is the one a running portal would serve.

    python web/scripts/openapi.py web/openapi.json

An upstream is found as the package `<name>.app` or `service_<name>.app` with a
`create_app()` factory (the requests service's package is `service_requests`).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from gateway.docs import merge_openapi
from gateway.settings import GatewaySettings


def service_document(name: str) -> dict[str, Any] | None:
    for module_name in (f"{name}.app", f"service_{name}.app"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue
            raise
        document: dict[str, Any] = module.create_app().openapi()
        return document
    return None


def merged_document() -> dict[str, Any]:
    settings = GatewaySettings()
    prefixes: dict[str, list[str]] = {}
    for route in settings.routes:
        prefixes.setdefault(route.upstream, []).append(route.prefix)
    documents: dict[str, dict[str, Any]] = {}
    for name in prefixes:
        document = service_document(name)
        if document is None:
            # The gateway routes to it but it is not installed here: say so, as the
            # gateway's own document does, rather than fail the build.
            print(f"openapi: no package for the upstream {name!r}; left out", file=sys.stderr)
            continue
        documents[name] = document
    merged = merge_openapi(documents, prefixes, settings.public_url)
    missing = sorted(set(prefixes) - set(documents))
    if missing:
        merged["x-unavailable-services"] = missing
    return merged


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python web/scripts/openapi.py OUTPUT.json", file=sys.stderr)
        return 2
    text = json.dumps(merged_document(), indent=1, sort_keys=False, ensure_ascii=False) + "\n"
    target = Path(argv[1])
    # Rewritten only when it changed, so make sees an unchanged document as up to date.
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
