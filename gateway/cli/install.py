"""`guardian install`: the systemd units, the user and the folders for a box (docs/deploying.md)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def _executable() -> Path:
    """This installation's `guardian`: beside the interpreter running it (a virtualenv's bin/), else PATH."""
    beside = Path(sys.executable).parent / "guardian"
    if beside.exists():
        return beside
    found = shutil.which("guardian")
    return Path(found) if found else beside


def cmd_install(args: argparse.Namespace) -> int:
    from gateway.ops.systemd_units import Layout, units, write_units

    layout = Layout(
        executable=args.executable or _executable(),
        config_dir=args.config_dir,
        data_dir=args.data_dir,
        user=args.user,
        watchdog_seconds=args.watchdog,
    )
    if not layout.executable.exists():
        print(f"warning: {layout.executable} does not exist; the units will not start (give --executable)")
    if args.print or args.dest is None:
        for name, text in units(layout).items():
            print(f"### {name}\n{text}")
        return 0
    for path in write_units(args.dest, layout):
        print(f"wrote {path}")
    if args.dest == Path("/etc"):
        print(
            "next: systemd-sysusers && systemd-tmpfiles --create && systemctl daemon-reload\n"
            "      systemctl enable --now guardian-gateway   (docs/deploying.md)"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("install", help="write the systemd units, sysusers.d and tmpfiles.d files")
    p.add_argument("--dest", type=Path, help="the folder standing for /etc (default: print them)")
    p.add_argument("--print", action="store_true", help="print the files instead of writing them")
    p.add_argument("--executable", type=Path, help="the guardian command the units run (default: this one)")
    p.add_argument("--config-dir", type=Path, default=Path("/etc/guardian"), help="guardian.env and secrets/")
    p.add_argument("--data-dir", type=Path, default=Path("/var/lib/guardian"), help="the data folder")
    p.add_argument("--user", default="guardian", help="the user the services run as")
    p.add_argument("--watchdog", type=int, default=30, help="WatchdogSec: seconds without a ping to restart")
    p.set_defaults(func=cmd_install)
