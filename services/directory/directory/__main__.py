"""`python -m directory serve|migrate|worker|seed-demo`."""

from __future__ import annotations

from pathlib import Path

from directory.demo import seed
from directory.settings import get_settings
from portal_shared.cli import main
from portal_shared.db import make_engine, make_sessionmaker

SERVICE_ROOT = Path(__file__).resolve().parent.parent


async def seed_demo() -> None:
    """Load the demo agencies of `make run` (idempotent); their events go out through
    the outbox when the service's relay runs."""
    engine = make_engine(get_settings().database_url, pool_size=1)
    try:
        await seed(make_sessionmaker(engine))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    main(
        prog="directory",
        service_root=SERVICE_ROOT,
        settings_factory=get_settings,
        app_factory="directory.app:create_app",
        extra={"seed-demo": seed_demo},
    )
