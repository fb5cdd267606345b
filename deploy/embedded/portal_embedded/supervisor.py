"""A small process supervisor for the embedded demo: children with prefixed output.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only the
runner, which then stops the children in the order it chooses (services before
the broker, the broker before PostgreSQL). Long-running children are watched:
if one exits while nobody asked it to, the supervisor records why and wakes the
runner, which stops everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _die_with_parent() -> None:
    """Runs in the child before exec: if the runner itself is killed (SIGKILL, a crash),
    the kernel sends the child SIGTERM, so no service outlives it holding its port."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


# Wide enough for "directory" and "seed:catalog" to line up in the terminal.
PREFIX_WIDTH = 18


class ChildFailed(RuntimeError):
    """A child exited when it should not have, or a one-shot step failed."""


def say(name: str, message: str) -> None:
    """Write one line with the same prefix layout as the children's output."""
    sys.stdout.write(f"{name:<{PREFIX_WIDTH}}| {message}\n")
    sys.stdout.flush()


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    long_running: bool
    pump: asyncio.Task[None] | None = None
    watcher: asyncio.Task[None] | None = None
    stopping: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def signal_group(self, sig: signal.Signals) -> None:
        # The child leads its own process group: signal it whole, so anything it
        # spawned (uvicorn workers, for instance) goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


@dataclass
class Supervisor:
    """Starts children, streams their output, and stops them in order."""

    children: list[Child] = field(default_factory=list)
    # Set when a long-running child exits by itself; `failure` says which and how.
    died: asyncio.Event = field(default_factory=asyncio.Event)
    failure: str | None = None
    shutting_down: bool = False

    async def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        long_running: bool,
    ) -> Child:
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            # Safe despite threads: the hook makes one prctl call and takes no Python lock.
            preexec_fn=_die_with_parent,
        )
        child = Child(name, process, long_running)
        child.pump = asyncio.create_task(self._pump(child), name=f"pump:{name}")
        self.children.append(child)
        if long_running:
            child.watcher = asyncio.create_task(self._watch(child), name=f"watch:{name}")
        return child

    async def run_once(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str], within: float
    ) -> None:
        """Run a one-shot step (a migration, a seed) to completion; raise if it fails."""
        child = await self.spawn(name, argv, env=env, long_running=False)
        try:
            code = await asyncio.wait_for(child.process.wait(), within)
        except TimeoutError:
            await self.stop([child], grace=5)
            raise ChildFailed(f"{name} did not finish within {within:.0f} s") from None
        if child.pump is not None:
            await child.pump
        self.children.remove(child)
        if code != 0:
            raise ChildFailed(f"{name} failed with exit code {code} (its output is above)")

    async def _pump(self, child: Child) -> None:
        stream = child.process.stdout
        if stream is None:
            return
        prefix = f"{child.name:<{PREFIX_WIDTH}}| ".encode()
        out = sys.stdout.buffer
        while line := await stream.readline():
            out.write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
            out.flush()

    async def _watch(self, child: Child) -> None:
        code = await child.process.wait()
        if child.stopping or self.shutting_down:
            return
        self.note_failure(f"{child.name} (pid {child.pid}) exited unexpectedly with code {code}")

    def note_failure(self, message: str) -> None:
        if self.failure is None:
            self.failure = message
        self.died.set()

    async def stop(self, children: Sequence[Child], *, grace: float) -> None:
        """SIGTERM the given children together, then SIGKILL whatever is left after `grace`."""
        alive = [c for c in children if c.running]
        for child in alive:
            child.stopping = True
            child.signal_group(signal.SIGTERM)
        waits = [asyncio.create_task(c.process.wait()) for c in alive]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=grace)
            if pending:
                for child in alive:
                    if child.running:
                        say("run", f"{child.name} did not stop within {grace:.0f} s: killing it")
                        child.signal_group(signal.SIGKILL)
                await asyncio.wait(waits)
        for child in children:
            # Whatever the child's own children still hold open must not outlive it.
            child.signal_group(signal.SIGKILL)
            if child.pump is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(child.pump, 2)
            with contextlib.suppress(ValueError):
                self.children.remove(child)
