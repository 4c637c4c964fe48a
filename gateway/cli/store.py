"""The relational store: its registry copy, its schema, sign-in accounts (`registry`, `store`, `accounts`)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gateway.cli.common import settings_of
from gateway.errors import ConfigError


def cmd_registry_import(args: argparse.Namespace) -> int:
    """A registry YAML (the whole site) or a CSV roster (residents of the households it lists)."""
    import time

    from gateway.config.registry_file import load_registries
    from gateway.store.db import open_store
    from gateway.store.registry_import import import_registry
    from gateway.store.roster import import_roster, parse_roster

    settings = settings_of(args)

    async def go() -> list[str]:
        async with open_store(settings.store_url()) as store:
            if args.file.suffix.lower() == ".csv":
                if not args.site:
                    raise ConfigError(f"{args.file}: a roster belongs to one site: give --site")
                rows = parse_roster(args.file.read_text(encoding="utf-8-sig"), str(args.file))
                return [f"site {args.site}: {(await import_roster(store, args.site, rows)).summary()}"]
            return [
                f"site {reg.site}: {(await import_registry(store, reg)).summary()}"
                for reg in load_registries(args.file)
            ]

    started = time.monotonic()
    for line in asyncio.run(go()):
        print(line)
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0


def cmd_store(args: argparse.Namespace) -> int:
    """Upgrade the store's schema now (operators), or write a migration for changed models (developers)."""
    from alembic import command

    from gateway.store.db import alembic_config, open_store

    settings = settings_of(args)

    async def go() -> None:
        async with open_store(settings.store_url(), migrate=args.action == "upgrade") as store:
            if args.action == "revision":
                async with store.engine.begin() as conn:
                    await conn.run_sync(
                        lambda c: command.revision(alembic_config(c), message=args.message, autogenerate=True)
                    )

    asyncio.run(go())
    print("store upgraded to the newest schema" if args.action == "upgrade" else "migration written")
    return 0


def cmd_accounts(args: argparse.Namespace) -> int:
    """Sign-ins for the API and the pages: add (password from --password-file or asked), list, disable."""
    import getpass
    import time

    from gateway.store.accounts import create_account
    from gateway.store.db import open_store
    from gateway.store.queries import all_accounts, disable_account

    settings = settings_of(args)

    async def go() -> None:
        async with open_store(settings.store_url()) as store:
            if args.action == "add":
                if args.password_file:
                    password = args.password_file.read_text(encoding="utf-8").strip()
                else:
                    password = getpass.getpass(f"password for {args.username}: ")
                await create_account(
                    store,
                    args.username,
                    password,
                    args.role,
                    site=args.site,
                    person=args.person,
                    name=args.name or "",
                    language=args.language,
                    now=time.time(),
                    replace=args.replace,
                )
                print(f"account {args.username} ({args.role}) saved")
            elif args.action == "list":
                async with store.session() as session:
                    for a in await all_accounts(session):
                        state = " disabled" if a.disabled else ""
                        print(f"{a.username}\t{a.role}\t{a.site or '*'}\t{a.person or ''}{state}")
            else:
                async with store.session() as session, session.begin():
                    await disable_account(session, args.username)
                print(f"account {args.username} disabled")

    asyncio.run(go())
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("registry", help="the relational store's copy of the registry")
    p.add_argument("--config", type=Path)
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser(
        "import", help="load or update a site from registry YAML, or residents from a CSV roster"
    )
    a.add_argument("file", type=Path, help="registry .yaml (or a folder of them) or roster .csv")
    a.add_argument("--site", help="the site a CSV roster belongs to")
    p.set_defaults(func=cmd_registry_import)

    p = sub.add_parser("store", help="the relational store's schema (Alembic migrations)")
    p.add_argument("--config", type=Path)
    acts = p.add_subparsers(dest="action", required=True)
    acts.add_parser(
        "upgrade", help="migrate the database to the newest schema (the gateway also does at start)"
    )
    a = acts.add_parser(
        "revision", help="developers: write a migration for what changed in gateway/store/schema.py"
    )
    a.add_argument("message")
    p.set_defaults(func=cmd_store)

    p = sub.add_parser("accounts", help="sign-ins for the API, the resident app and the console")
    p.add_argument("--config", type=Path)
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("add", help="add an account (or --replace one: new password, old tokens revoked)")
    a.add_argument("username")
    a.add_argument(
        "--role", required=True, choices=["resident", "officer", "property", "maintenance", "admin"]
    )
    a.add_argument("--site", help="the site (every role but admin)")
    a.add_argument("--person", help="the registry person id (residents: their pseudonym; officers: their id)")
    a.add_argument("--name", help="display name")
    a.add_argument("--language", default="zh", choices=["zh", "en"])
    a.add_argument("--password-file", type=Path, help="read the password from this file instead of asking")
    a.add_argument("--replace", action="store_true")
    acts.add_parser("list", help="every account, its role and place")
    a = acts.add_parser("disable", help="refuse this account's sign-in and revoke its tokens")
    a.add_argument("username")
    p.set_defaults(func=cmd_accounts)
