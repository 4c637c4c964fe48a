"""`guardian`: the gateway's command line, one module per command group."""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError as _ValidationError

from gateway.cli import backup, cluster, devices, influx, install, people, rules, run, simulate, store
from gateway.errors import ConfigError as _ConfigError
from gateway.errors import GuardianError as _GuardianError

GROUPS = (run, cluster, devices, influx, store, rules, people, simulate, install, backup)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guardian", description="Gas Guardian gateway")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per InfluxDB write is noise
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "setup plugin …" at every start
    try:
        return int(args.func(args))
    except _ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except _ValidationError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except _GuardianError as exc:
        print(f"error:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


__all__ = ["GROUPS", "build_parser", "main"]
