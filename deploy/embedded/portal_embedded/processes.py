"""The portal's processes in one place: names, packages, source folders, ports, databases.

The embedded runner starts them from this list, and the deployment tests check
docker-compose.yml, the Dockerfile and the Kubernetes manifests against it and
against each process's Settings class and each service's topics, read at run time so
that a variable or topic a service adds is noticed without editing any list.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from pydantic_settings import BaseSettings

# Every process's image is built from this one file, told which process by build_args.
DOCKERFILE = "deploy/docker/Dockerfile"


@dataclass(frozen=True)
class PortalProcess:
    """A deployable process of the portal."""

    name: str
    distribution: str
    package: str
    source: str
    default_port: int
    # The database it owns (same name as the service), or None for the gateway.
    database: str | None

    @property
    def port_env(self) -> str:
        """The variable that moves this process's port in the embedded runner."""
        return f"PORTAL_{self.name.upper()}_PORT"

    @property
    def build_args(self) -> dict[str, str]:
        """What the one Dockerfile (DOCKERFILE) needs to build this process's image."""
        return {
            "SOURCE": self.source,
            "PACKAGE": self.package,
            "DISTRIBUTION": self.distribution,
            "PORT": str(self.default_port),
        }

    def settings_class(self) -> type[BaseSettings]:
        """The process's Settings class, the one BaseSettings defined in `<package>.settings`."""
        module = importlib.import_module(f"{self.package}.settings")
        found = [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, BaseSettings)
            and value.__module__ == module.__name__
        ]
        if len(found) != 1:
            raise LookupError(f"{module.__name__} should define one Settings class, not {found}")
        return found[0]

    def env_names(self) -> set[str]:
        """Every environment variable the process's settings read."""
        return settings_env_names(self.settings_class())


def settings_env_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variables a pydantic-settings class reads: aliases, else prefixed names."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias or field.alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif alias is not None and hasattr(alias, "choices"):
            names.update(c.upper() for c in alias.choices if isinstance(c, str))
        else:
            names.add(f"{prefix}{name}".upper())
    return names


SERVICES = (
    PortalProcess("identity", "portal-identity", "identity", "services/identity", 8001, "identity"),
    PortalProcess(
        "directory", "portal-directory", "directory", "services/directory", 8002, "directory"
    ),
    PortalProcess("catalog", "portal-catalog", "catalog", "services/catalog", 8003, "catalog"),
    PortalProcess(
        "requests", "portal-requests", "service_requests", "services/requests", 8004, "requests"
    ),
    PortalProcess(
        "notifications",
        "portal-notifications",
        "notifications",
        "services/notifications",
        8005,
        "notifications",
    ),
)
GATEWAY = PortalProcess("gateway", "portal-gateway", "gateway", "gateway", 8000, None)
PROCESSES = (*SERVICES, GATEWAY)


def service_topics() -> set[str]:
    """Every Kafka topic the services use, each with its dead-letter topic, as their apps
    declare them (`portal_shared.app.service_topics`): what a deployment whose brokers create
    no topics must provision. The gateway reads only identity's topics, which are among them."""
    topics: set[str] = set()
    for process in SERVICES:
        app = importlib.import_module(f"{process.package}.app").create_app()
        topics.update(app.state.topics)
    return topics
