"""The embedded malware scanner: ClamAV's clamd from Debian's `clamav-daemon` package.

`make system-deps` installs the package (`make test` depends on it). clamd runs here on a
free loopback TCP port with a signature database of our own that holds only the EICAR
test signature, so nothing is downloaded (no freshclam) and it is ready at once.
Measured here (ClamAV 1.4.6): the port is open ~0.06 s after start, ~16 MB resident.
Production points CLAMD_URL at a clamd kept up to date by freshclam.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from portal_embedded.broker import end, wait_for_port

# The EICAR anti-malware test file (eicar.org): every scanner reports it, it harms nothing.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE_NAME = "Portal-Eicar-Test-Signature"
# A body signature (.ndb: name, target type 0 = any file, offset * = anywhere, hex), so
# EICAR is found inside a larger file too, not only as the whole file.
NDB = f"{SIGNATURE_NAME}:0:*:{EICAR.hex()}\n"
DEBIAN_PACKAGE = "clamav-daemon"


def clamd_bin() -> str:
    for candidate in (shutil.which("clamd"), "/usr/sbin/clamd"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError(f"clamd is not installed: `make system-deps` installs {DEBIAN_PACKAGE}")


@dataclass
class EmbeddedClamd:
    folder: Path
    port: int
    # clamd's own limit on one INSTREAM; the service's per-file limit is below it.
    stream_max_bytes: int = 64 * 1024 * 1024
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.folder / "clamd.conf"

    def write_config(self) -> None:
        database = self.folder / "db"
        database.mkdir(parents=True, exist_ok=True)
        (database / "portal-eicar.ndb").write_text(NDB)
        self.config_file.write_text(
            "\n".join(
                [
                    "Foreground yes",
                    "TCPAddr 127.0.0.1",
                    f"TCPSocket {self.port}",
                    f"DatabaseDirectory {database}",
                    f"LogFile {self.folder / 'clamd.log'}",
                    "LogTime yes",
                    f"PidFile {self.folder / 'clamd.pid'}",
                    f"TemporaryDirectory {self.folder}",
                    f"StreamMaxLength {self.stream_max_bytes}",
                    # Two cores are shared by everything here; scans of test files are tiny.
                    "MaxThreads 4",
                    "",
                ]
            )
        )

    def start(self) -> None:
        self.write_config()
        self.process = subprocess.Popen(
            [clamd_bin(), "--config-file", str(self.config_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port("127.0.0.1", self.port, timeout=60)
        except OSError as exc:
            self.stop()
            raise RuntimeError(
                f"clamd did not open port {self.port}; see {self.folder / 'clamd.log'}"
            ) from exc

    def stop(self) -> None:
        end(self.process)
        self.process = None
