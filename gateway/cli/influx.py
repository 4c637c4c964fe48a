"""`guardian influx provision`: the schema, the gateway's writer and a read-only user (docs/security.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.common import settings_of


def cmd_provision(args: argparse.Namespace) -> int:
    from gateway.ops.influx_access import ADMIN, READER, WRITER, InfluxAccess

    settings = settings_of(args)
    influx = settings.influx
    access = InfluxAccess(args.dir)
    if args.admin_password_file is not None:
        admin_password = args.admin_password_file.read_text().strip()
    elif args.create_admin:
        admin_password = access.create_admin(influx.url, influx.ca_file)
        print(f"created InfluxDB admin {ADMIN}; its password is in {access.admin_file}")
    else:
        print("give --admin-password-file, or --create-admin for an InfluxDB that has no users yet")
        return 2
    access.provision(influx, args.admin, admin_password)
    print(
        f"InfluxDB {influx.url} database {influx.database}: schema made; {WRITER} (ALL on it) in "
        f"{args.dir / 'secrets'} for GUARDIAN_SECRETS_DIR; {READER} (READ) in {args.dir / 'accounts'}"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("influx", help="InfluxDB 1.x users and schema, with authentication on")
    p.add_argument("--config", type=Path)
    p.add_argument("--dir", type=Path, required=True, help="the folder for the users' password files")
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("provision", help="schema as the admin; the gateway's writer and a read-only user")
    a.add_argument("--admin", default="guardian-admin", help="the InfluxDB admin to act as")
    a.add_argument("--admin-password-file", type=Path, help="a file holding the admin's password")
    a.add_argument(
        "--create-admin", action="store_true", help="create the first admin (InfluxDB without users only)"
    )
    a.set_defaults(func=cmd_provision)
