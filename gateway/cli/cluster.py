"""`guardian cluster status`: the district's partitions, their owners, lease ages, lag and last snapshots."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from gateway.cli.common import settings_of


def cmd_status(args: argparse.Namespace) -> int:
    from gateway.district.status import district_status, render

    settings = settings_of(args)
    if args.servers:
        settings.cluster.servers = [u.strip() for u in args.servers.split(",") if u.strip()]
    rows: list[dict[str, Any]] = asyncio.run(district_status(settings))
    print(render(rows, as_json=args.json))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("cluster", help="the district on NATS JetStream")
    cmds = p.add_subparsers(dest="cluster_command", required=True)
    s = cmds.add_parser("status", help="partitions, owners, lease ages, lag per partition, last snapshot")
    s.add_argument("--config", type=Path)
    s.add_argument("--registry", type=Path)
    s.add_argument("--servers", metavar="URLS", help="NATS servers, comma-separated (else cluster.servers)")
    s.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    s.set_defaults(func=cmd_status)
