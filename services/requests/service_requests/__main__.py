"""`python -m service_requests serve|migrate|worker` (no demo data of its own to seed)."""

from __future__ import annotations

from pathlib import Path

from portal_shared.cli import main
from service_requests.settings import get_settings

SERVICE_ROOT = Path(__file__).resolve().parent.parent


if __name__ == "__main__":
    main(
        prog="service_requests",
        service_root=SERVICE_ROOT,
        settings_factory=get_settings,
        app_factory="service_requests.app:create_app",
    )
