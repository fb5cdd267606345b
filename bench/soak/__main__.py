"""`python -m bench.soak` runs the soak; `python -m bench.soak consume ...` is its checker."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import bench.soak
from bench.soak.checker import consume
from bench.soak.config import FAULTS, KINDS
from bench.soak.run import soak


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=bench.soak.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="[consume]")
    consume = commands.add_parser(
        "consume", help="the checker process the soak starts itself (not for direct use)"
    )
    consume.add_argument("database_url")
    consume.add_argument("bootstrap")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    unknown = set(FAULTS) - set(KINDS)
    if unknown:
        print(f"unknown SOAK_FAULTS {sorted(unknown)}; known: {', '.join(KINDS)}")
        return 2
    if args.command == "consume":
        asyncio.run(consume(args.database_url, args.bootstrap))
        return 0
    return asyncio.run(soak(Path(tempfile.mkdtemp(prefix="portal-soak-"))))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
