"""A local SMTP sink: every message it accepts is written to a Maildir, nothing is relayed.

`make run` points the notifications service at it (mail lands in `.data/mail`), and the
tests start one on a free port and assert on what it received.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

LOOPBACK = "127.0.0.1"


class MailSink:
    """An aiosmtpd server on `port`, in a thread of its own, writing to `folder` (a Maildir).

    `handler` replaces the Maildir writer (e.g. one that refuses some recipients); it is
    expected to write to `folder` too, or `messages()` sees nothing."""

    def __init__(
        self, folder: Path, port: int, *, host: str = LOOPBACK, handler: Any | None = None
    ) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self.handler = handler
        self._controller: Controller | None = None

    def start(self) -> None:
        # Maildir's own `create` makes nothing in a folder that exists already.
        for part in ("tmp", "new", "cur"):
            (self.folder / part).mkdir(parents=True, exist_ok=True)
        if self.handler is None:
            self.handler = Mailbox(self.folder)
        controller = Controller(
            self.handler, hostname=self.host, port=self.port, ready_timeout=10.0
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def messages(self) -> list[EmailMessage]:
        """Every message received so far, parsed (modern policy: `get_body()` works)."""
        box = mailbox.Maildir(self.folder, create=True)
        found: list[EmailMessage] = []
        for key in box.iterkeys():
            raw = box.get_bytes(key)
            # The default policy parses into EmailMessage, so `get_body()` works.
            found.append(email.message_from_bytes(raw, policy=email.policy.default))
        return found
