"""`python -m catalog serve|migrate|worker|seed-demo`."""

from __future__ import annotations

from pathlib import Path

from catalog.seed import seed
from catalog.settings import get_settings
from portal_shared.cli import main
from portal_shared.db import make_engine, make_sessionmaker
from portal_shared.logging import configure_logging

SERVICE_ROOT = Path(__file__).resolve().parent.parent


async def seed_demo() -> None:
    """Load the demo data of `make run` (idempotent): the demo state services, published."""
    settings = get_settings()
    configure_logging("catalog", settings.log_level, json=settings.log_json)
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        await seed(make_sessionmaker(engine), wait_seconds=settings.seed_wait_seconds)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    main(
        prog="catalog",
        service_root=SERVICE_ROOT,
        settings_factory=get_settings,
        app_factory="catalog.app:create_app",
        extra={"seed-demo": seed_demo},
    )
