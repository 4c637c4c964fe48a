"""Reaching people: `enroll` prints a person's link for receiving alarms on their phone; `receipt-urls` the
addresses to give SMS, voice and WeChat providers for their delivery receipts."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gateway.cli.common import settings_of
from gateway.errors import ConfigError


def cmd_enroll(args: argparse.Namespace) -> int:
    """Print the link a person opens on their phone to receive alarms there (no account needed)."""
    from gateway.config.registry_file import load_registries
    from gateway.notify.directory import Directory
    from gateway.notify.setup import enrolment_link

    settings = settings_of(args)
    directory = Directory(load_registries(settings.registry))
    if not directory.knows(args.site, args.person):
        raise ConfigError(f"no person {args.person!r} in site {args.site!r} of {settings.registry}")
    link = enrolment_link(settings.notify, settings.data_dir, args.site, args.person, args.days)
    print(asyncio.run(link))
    return 0


def cmd_receipt_urls(args: argparse.Namespace) -> int:
    """Print, per provider that pushes receipts, the callback URL to set in its console."""
    from gateway.notify.setup import receipt_urls

    settings = settings_of(args)
    urls = asyncio.run(receipt_urls(settings.notify, settings.data_dir))
    if not urls:
        print("no provider that pushes receipts is configured (notify.aliyun, notify.wechat)")
    for channel, url in urls.items():
        print(f"{channel}\t{url}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("enroll", help="print a person's link for receiving alarms on their phone")
    p.add_argument("--config", type=Path)
    p.add_argument("--registry", type=Path)
    p.add_argument("--site", required=True)
    p.add_argument("--person", required=True, help="resident, contact, officer or staff id in the registry")
    p.add_argument("--days", type=float, default=7.0, help="how long the link works")
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("receipt-urls", help="the callback URLs to give SMS, voice and WeChat providers")
    p.add_argument("--config", type=Path)
    p.set_defaults(func=cmd_receipt_urls)
