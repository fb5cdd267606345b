"""`python -m portal_embedded run`: the whole portal on this machine (what `make run` calls)."""

from __future__ import annotations

import argparse
import sys

from portal_embedded.run import main as run


def main() -> int:
    parser = argparse.ArgumentParser(prog="portal_embedded")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run",
        help="start PostgreSQL, the broker, the services and the gateway with demo data",
    )
    parser.parse_args()
    return run()


if __name__ == "__main__":
    sys.exit(main())
