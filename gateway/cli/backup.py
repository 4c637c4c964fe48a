"""`guardian backup` and `guardian restore`: the data folder and the store as one checked archive."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gateway.cli.common import settings_of
from gateway.errors import ConfigError


def cmd_backup(args: argparse.Namespace) -> int:
    from gateway.ops.backup import backup, prune, read_manifest

    settings = settings_of(args)
    started = time.monotonic()
    archive = backup(settings.data_dir, settings.store_url(), args.dest)
    manifest = read_manifest(archive)
    size = archive.stat().st_size
    print(
        f"wrote {archive} ({size / 1e6:.1f} MB, {len(manifest.files)} files, {manifest.store} store at "
        f"schema {manifest.schema}) in {time.monotonic() - started:.1f} s"
    )
    if args.keep is not None:
        if not args.dest.is_dir():
            raise ConfigError("--keep prunes a folder of backups: give a folder as DEST")
        for path in prune(args.dest, args.keep):
            print(f"removed {path}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from gateway.ops.backup import restore

    settings = settings_of(args)
    if args.data is not None:
        settings.data_dir = args.data
    manifest = restore(args.archive, settings.data_dir, settings.store_url(), force=args.force)
    print(
        f"restored {args.archive} into {settings.data_dir}: made by {manifest.version} at "
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(manifest.created))}, schema {manifest.schema}; "
        "`guardian run` on it migrates and replays the spool"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("backup", help="archive the store, spool, outbox and rule snapshot (while running)")
    p.add_argument(
        "dest", type=Path, help="archive file, or a folder to write guardian-backup-<time>.tar.gz in"
    )
    p.add_argument("--keep", type=int, metavar="N", help="then remove all but the newest N in that folder")
    p.add_argument("--config", type=Path)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="check a backup archive and restore it into an empty data folder")
    p.add_argument("archive", type=Path)
    p.add_argument("--data", type=Path, help="the data folder to restore into (default: settings' data_dir)")
    p.add_argument("--force", action="store_true", help="replace what the folder (or PostgreSQL store) holds")
    p.add_argument("--config", type=Path)
    p.set_defaults(func=cmd_restore)
