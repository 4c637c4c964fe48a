"""`guardian backup` / `guardian restore`: one archive of everything a box would lose with its disk.

What a gateway keeps in its data folder, and how each part is copied while it runs:

- the rule snapshot `alerts.snapshot` (written atomically by rename, so a plain read is a whole one), copied
  first: everything after the spool id it reflects is still in the spool copied next;
- the spool `spool.sqlite3`: messages not yet trimmed, the export and processing cursors, the quarantine;
- the outbox `notify.sqlite3`: open deliveries, acknowledgement state, the API's signing key, phones;
- the store: `guardian.sqlite3`, or `pg_dump --format=custom` of the PostgreSQL database in `store.url`.

SQLite files are copied with SQLite's online backup API (one step, under a read transaction: a consistent
copy while the gateway goes on writing in WAL mode), never with `cp`. The archive is a tar.gz holding those
files and `manifest.json`: format, the package version, the store's schema revision, the time, and each
file's SHA-256. A restore checks all of them before it writes anything: a tampered or truncated archive, a
schema newer than this code's migrations, or a target folder that is not empty (without `force`) is refused
with the reason. After a restore, `guardian run` on that folder migrates an older schema as at any start,
loads the snapshot and replays the spool behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from gateway.errors import ConfigError

FORMAT = 1
MANIFEST = "manifest.json"
SNAPSHOT = "alerts.snapshot"
SQLITE_FILES = ("spool.sqlite3", "notify.sqlite3")
STORE_FILE = "guardian.sqlite3"
PG_DUMP = "store.pgdump"


@dataclass(frozen=True, slots=True)
class Manifest:
    version: str
    schema: str | None
    created: float
    store: str
    """"sqlite" or "postgresql"."""
    files: dict[str, str]
    """archive member -> SHA-256 hex."""

    def to_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "version": self.version,
            "schema": self.schema,
            "created": self.created,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)),
            "store": self.store,
            "files": self.files,
        }
        return json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
            if body.get("format") != FORMAT:
                raise ConfigError(f"backup format {body.get('format')!r}; this version reads format {FORMAT}")
            return cls(
                version=str(body["version"]),
                schema=body["schema"],
                created=float(body["created"]),
                store=str(body["store"]),
                files={str(k): str(v) for k, v in body["files"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"backup manifest unreadable: {exc}") from exc


def _package_version() -> str:
    try:
        return metadata.version("gas-guardian")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy of a database another process is writing."""
    # Read-only, a reader still makes -wal/-shm beside a WAL database; run as root, SQLite gives them the
    # database file's owner, so a backup by root does not lock the gateway out of its own spool.
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # all pages in one step, so a concurrent write cannot restart it halfway
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file (the gateway sets WAL again)
    finally:
        dst.close()
        src.close()


def _sqlite_revision(path: Path) -> str | None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no alembic_version table: never migrated
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


def libpq_url(url: str) -> str:
    """SQLAlchemy's `postgresql+asyncpg://…` as pg_dump and pg_restore take it."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    from gateway.ops.services import _postgres_bin

    with contextlib.suppress(ConfigError):
        candidate = _postgres_bin() / name  # the server's own version: pg_dump must not be older
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ConfigError(f"{name} not found: install the Debian package postgresql-client")
    return found


async def _pg_revision(url: str) -> str | None:
    from gateway.store.db import open_store, revision

    async with open_store(url, migrate=False) as store, store.engine.connect() as conn:
        return await conn.run_sync(revision)


def known_revisions() -> set[str]:
    """Every schema revision this code's migrations know; a store at any other is from a newer version."""
    from alembic.script import ScriptDirectory

    from gateway.store.db import alembic_config

    return {r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def backup(data_dir: Path, store_url: str, dest: Path, *, clock: Any = time.time) -> Path:
    """Write the archive; `dest` is a file name, or a folder to put `guardian-backup-<UTC time>.tar.gz` in."""
    if not data_dir.is_dir():
        raise ConfigError(f"no data folder {data_dir}: nothing to back up")
    created = float(clock())
    if dest.is_dir():
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created))
        dest = dest / f"guardian-backup-{stamp}.tar.gz"
    postgres = make_url(store_url).get_backend_name() == "postgresql"
    with tempfile.TemporaryDirectory(prefix="guardian-backup-", dir=dest.parent) as scratch:
        work = Path(scratch)
        if (data_dir / SNAPSHOT).exists():  # first: the spool copied after it holds what came since
            shutil.copyfile(data_dir / SNAPSHOT, work / SNAPSHOT)
        for name in SQLITE_FILES:
            if (data_dir / name).exists():
                _sqlite_copy(data_dir / name, work / name)
        if postgres:
            dump = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(work / PG_DUMP)]
            done = subprocess.run(
                [*dump, libpq_url(store_url)],
                check=False,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise ConfigError(f"pg_dump failed: {done.stderr.strip()}")
            schema = asyncio.run(_pg_revision(store_url))
        else:
            store_path = Path(make_url(store_url).database or "")
            if not store_path.exists():
                raise ConfigError(f"no store at {store_path}: start the gateway once before backing up")
            _sqlite_copy(store_path, work / STORE_FILE)
            schema = _sqlite_revision(work / STORE_FILE)
        files = {p.name: _sha256(p) for p in sorted(work.iterdir())}
        manifest = Manifest(
            _package_version(), schema, created, "postgresql" if postgres else "sqlite", files
        )
        partial = dest.with_name(dest.name + ".partial")
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:  # 9 is ten times slower, 4% smaller
            raw = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(raw), int(created), 0o600
            tar.addfile(info, io.BytesIO(raw))
            for name in files:
                tar.add(work / name, arcname=name, recursive=False)
        os.chmod(partial, 0o600)  # it holds the signing key and people's phone numbers
        partial.replace(dest)
    return dest


def prune(folder: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` archives `backup` named in this folder; returns those removed."""
    archives = sorted(folder.glob("guardian-backup-*.tar.gz"))  # the UTC time in the name sorts them
    gone = archives[: max(len(archives) - keep, 0)]
    for path in gone:
        path.unlink()
    return gone


def read_manifest(archive: Path) -> Manifest:
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(MANIFEST)
        if member is None:
            raise ConfigError(f"{archive}: no {MANIFEST}; not a guardian backup")
        return Manifest.from_json(member.read())


def _checked_extract(archive: Path, into: Path) -> Manifest:
    """Every member named in the manifest, with its checksum, and nothing else."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            names = tar.getnames()
            raw = tar.extractfile(MANIFEST) if MANIFEST in names else None
            if raw is None:
                raise ConfigError(f"{archive}: no {MANIFEST}; not a guardian backup")
            manifest = Manifest.from_json(raw.read())
            extra = set(names) - set(manifest.files) - {MANIFEST}
            missing = set(manifest.files) - set(names)
            if extra or missing:
                raise ConfigError(
                    f"{archive}: members do not match its manifest (extra {sorted(extra)}, "
                    f"missing {sorted(missing)}); refusing to restore"
                )
            for name in manifest.files:
                if "/" in name or name.startswith("."):
                    raise ConfigError(f"{archive}: unsafe member name {name!r}")
                tar.extract(name, into, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ConfigError(f"{archive}: unreadable archive ({exc}); refusing to restore") from exc
    bad = [name for name, digest in manifest.files.items() if _sha256(into / name) != digest]
    if bad:
        raise ConfigError(f"{archive}: checksum mismatch in {bad}: the archive was altered or damaged")
    return manifest


def restore(archive: Path, data_dir: Path, store_url: str, *, force: bool = False) -> Manifest:
    """Check the archive, then write its files into `data_dir` (and the dump into the PostgreSQL store)."""
    if data_dir.exists() and any(data_dir.iterdir()) and not force:
        raise ConfigError(
            f"{data_dir} is not empty; restore into an empty folder, or give --force to replace it"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=data_dir) as scratch:
        work = Path(scratch)
        manifest = _checked_extract(archive, work)
        if manifest.schema is not None and manifest.schema not in known_revisions():
            raise ConfigError(
                f"the backup's store is at schema {manifest.schema}, newer than this version "
                f"({_package_version()}) knows; restore it with the version that made it ({manifest.version})"
            )
        postgres = make_url(store_url).get_backend_name() == "postgresql"
        if (manifest.store == "postgresql") != postgres:
            raise ConfigError(
                f"the backup's store is {manifest.store}; the settings' store.url is "
                f"{'PostgreSQL' if postgres else 'SQLite'}: set store.url to match"
            )
        if postgres:
            _pg_restore(work / PG_DUMP, store_url, force=force)
        for name in {SNAPSHOT, *SQLITE_FILES, STORE_FILE} - set(manifest.files):
            for suffix in ("", "-wal", "-shm"):  # what the folder held and the backup did not (--force)
                (data_dir / (name + suffix)).unlink(missing_ok=True)
        for name in manifest.files:
            if name == PG_DUMP:
                continue
            target = data_dir / (name if name != STORE_FILE else _sqlite_name(store_url, data_dir))
            for stale in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
                stale.unlink(missing_ok=True)  # another database's journal must not be replayed over it
            (work / name).replace(target)
            if os.geteuid() == 0:  # restored by root: the files are the folder owner's (the service user's)
                owner = data_dir.stat()
                os.chown(target, owner.st_uid, owner.st_gid)
    return manifest


def _sqlite_name(store_url: str, data_dir: Path) -> str:
    """The store file's name in the restored folder: the default one, as a gateway on that folder opens."""
    path = Path(make_url(store_url).database or data_dir / STORE_FILE)
    if path.resolve().parent != data_dir.resolve():
        raise ConfigError(
            f"store.url names {path}, outside {data_dir}: unset GUARDIAN_STORE__URL for the restore"
        )
    return path.name


def _pg_restore(dump: Path, store_url: str, *, force: bool) -> None:
    if not force and asyncio.run(_pg_revision(store_url)) is not None:
        raise ConfigError("the PostgreSQL store already holds a schema; give --force to replace its contents")
    argv = [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--dbname", libpq_url(store_url)]
    if force:
        argv += ["--clean", "--if-exists"]
    done = subprocess.run([*argv, str(dump)], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError(f"pg_restore failed: {done.stderr.strip()}")


__all__ = ["Manifest", "backup", "known_revisions", "libpq_url", "prune", "read_manifest", "restore"]
