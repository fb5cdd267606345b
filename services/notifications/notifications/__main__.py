"""`python -m notifications serve|migrate|worker`."""

from __future__ import annotations

from pathlib import Path

from notifications.settings import get_settings
from portal_shared.cli import main

SERVICE_ROOT = Path(__file__).resolve().parent.parent


if __name__ == "__main__":
    main(
        prog="notifications",
        service_root=SERVICE_ROOT,
        settings_factory=get_settings,
        app_factory="notifications.app:create_app",
    )
