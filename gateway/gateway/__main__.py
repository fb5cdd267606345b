"""`python -m gateway serve`: the portal's public edge on uvicorn with uvloop and httptools."""

from __future__ import annotations

import argparse

import uvicorn

from gateway.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the public origin")
    parser.parse_args()
    settings = get_settings()
    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        # The gateway is the edge: X-Forwarded-* from callers are handled (believed only
        # from TRUSTED_PROXIES) by the gateway itself, not by uvicorn.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
