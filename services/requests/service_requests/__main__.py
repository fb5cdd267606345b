"""`python -m service_requests serve|migrate|worker|seed-demo`."""

from __future__ import annotations

from pathlib import Path

from portal_shared.cli import main
from service_requests.settings import get_settings

SERVICE_ROOT = Path(__file__).resolve().parent.parent


async def seed_demo() -> None:
    """Load the demo data of `make run` (idempotent). Nothing yet for this service."""


if __name__ == "__main__":
    main(
        prog="service_requests",
        service_root=SERVICE_ROOT,
        settings_factory=get_settings,
        app_factory="service_requests.app:create_app",
        extra={"seed-demo": seed_demo},
    )
