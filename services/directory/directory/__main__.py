"""`python -m directory serve|migrate|worker|seed-demo`."""

from __future__ import annotations

from pathlib import Path

from directory.settings import get_settings
from portal_shared.cli import main

SERVICE_ROOT = Path(__file__).resolve().parent.parent


async def seed_demo() -> None:
    """Load the demo data of `make run` (idempotent). Nothing yet for this service."""


if __name__ == "__main__":
    main(
        prog="directory",
        service_root=SERVICE_ROOT,
        settings_factory=get_settings,
        app_factory="directory.app:create_app",
        extra={"seed-demo": seed_demo},
    )
