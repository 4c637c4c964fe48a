"""The archive `guardian backup` writes, and every reason `guardian restore` refuses one: altered, from a
newer schema, into a folder that holds data; SQLite and PostgreSQL stores (a real server, pg_dump)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sqlite3
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.cli import main
from gateway.errors import ConfigError
from gateway.ops import services
from gateway.ops.backup import MANIFEST, backup, prune, read_manifest, restore
from gateway.store.db import HEAD, open_store, sqlite_url


async def _migrated(url: str) -> None:
    async with open_store(url) as store, store.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        await conn.execute(text("INSERT INTO probe VALUES (42)"))


def _data(folder: Path) -> Path:
    """A data folder as a gateway leaves it: store, spool with a cursor, outbox, rule snapshot."""
    folder.mkdir()
    asyncio.run(_migrated(sqlite_url(folder / "guardian.sqlite3")))
    for name in ("spool.sqlite3", "notify.sqlite3"):
        conn = sqlite3.connect(folder / name)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE cursor (name TEXT, id INTEGER)")
        conn.execute("INSERT INTO cursor VALUES ('processor', 1234)")
        conn.commit()
        conn.close()
    (folder / "alerts.snapshot").write_bytes(b"GGSNAP\x00rule state")
    return folder


def _rewrite(
    archive: Path, out: Path, *, manifest: dict | None = None, member: tuple[str, bytes] | None = None
) -> Path:  # type: ignore[type-arg]
    """A copy of the archive with its manifest or one member replaced (what an attacker or a bad disk does)."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == MANIFEST and manifest is not None:
                data = json.dumps(manifest).encode()
            if member is not None and info.name == member[0]:
                data = member[1]
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def test_round_trip_on_sqlite(tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    archive = backup(data, sqlite_url(data / "guardian.sqlite3"), tmp_path)
    manifest = read_manifest(archive)
    assert manifest.schema == HEAD and manifest.store == "sqlite"
    assert set(manifest.files) == {"alerts.snapshot", "spool.sqlite3", "notify.sqlite3", "guardian.sqlite3"}
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    target = tmp_path / "new"
    target.mkdir()
    owner = os.geteuid()
    if owner == 0:  # restored as root into the service user's folder
        owner = 4321
        os.chown(target, owner, owner)
    restore(archive, target, sqlite_url(target / "guardian.sqlite3"))
    assert {p.stat().st_uid for p in target.iterdir()} == {owner}  # the service can write what root restored
    assert (target / "alerts.snapshot").read_bytes() == b"GGSNAP\x00rule state"
    spool = sqlite3.connect(target / "spool.sqlite3")
    assert spool.execute("SELECT id FROM cursor").fetchall() == [(1234,)]
    store = sqlite3.connect(target / "guardian.sqlite3")
    assert store.execute("SELECT x FROM probe").fetchall() == [(42,)]
    assert [p.name for p in target.iterdir() if p.name.startswith(".")] == []  # no scratch left behind


def test_keep_prunes_all_but_the_newest(tmp_path: Path) -> None:
    names = [f"guardian-backup-2027010{d}T031500Z.tar.gz" for d in range(1, 6)]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "notes.txt").write_text("mine")
    assert [p.name for p in prune(tmp_path, 2)] == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == [*names[3:], "notes.txt"]


def test_restore_refuses_what_it_cannot_trust(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _data(tmp_path / "data")
    archive = backup(data, sqlite_url(data / "guardian.sqlite3"), tmp_path / "b.tar.gz")
    with tarfile.open(archive) as tar:
        body = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]

    def refused(bad: Path, target: Path, *extra: str) -> str:
        code = main(["restore", str(bad), "--data", str(target), *extra])
        err = capsys.readouterr().err
        assert code == 2, err
        return err

    altered = _rewrite(archive, tmp_path / "altered.tar.gz", member=("alerts.snapshot", b"GGSNAP\x00forged"))
    assert "checksum mismatch in ['alerts.snapshot']" in refused(altered, tmp_path / "t1")
    assert not (tmp_path / "t1" / "alerts.snapshot").exists()  # nothing written from a refused archive

    future = _rewrite(
        archive, tmp_path / "future.tar.gz", manifest={**body, "schema": "0099_from_the_future"}
    )
    assert "schema 0099_from_the_future, newer than this version" in refused(future, tmp_path / "t2")

    listed = dict(body, files={**body["files"], "../evil": body["files"]["alerts.snapshot"]})
    unlisted = _rewrite(archive, tmp_path / "unlisted.tar.gz", manifest=listed)
    assert "do not match its manifest (extra [], missing ['../evil'])" in refused(unlisted, tmp_path / "t3")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert "refusing to restore" in refused(truncated, tmp_path / "t4")

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "spool.sqlite3").write_bytes(b"someone's data")
    assert "is not empty" in refused(archive, busy)
    assert (busy / "spool.sqlite3").read_bytes() == b"someone's data"
    (busy / "alerts.snapshot").write_bytes(b"someone else's rule state")
    (data / "alerts.snapshot").unlink()  # a backup made before the first snapshot
    archive = backup(data, sqlite_url(data / "guardian.sqlite3"), tmp_path / "early.tar.gz")
    assert main(["restore", str(archive), "--data", str(busy), "--force"]) == 0
    assert not (busy / "alerts.snapshot").exists()  # not left to be loaded over the restored spool
    assert sqlite3.connect(busy / "spool.sqlite3").execute("SELECT id FROM cursor").fetchall() == [(1234,)]


def test_round_trip_on_postgresql(tmp_path: Path) -> None:
    with services.postgres() as pg:
        from tests.gateway.store.conftest import _connect

        async def databases() -> None:
            conn = await _connect(f"postgresql://guardian@127.0.0.1:{pg.port}/postgres")
            await conn.execute("CREATE DATABASE source")
            await conn.execute("CREATE DATABASE target")
            await conn.close()

        asyncio.run(databases())
        source, target = services.postgres_url(pg, "source"), services.postgres_url(pg, "target")
        asyncio.run(_migrated(source))
        data = tmp_path / "data"
        data.mkdir()
        (data / "alerts.snapshot").write_bytes(b"GGSNAP\x00pg")
        archive = backup(data, source, tmp_path)
        manifest = read_manifest(archive)
        assert manifest.store == "postgresql" and manifest.schema == HEAD
        assert "store.pgdump" in manifest.files
        with pytest.raises(ConfigError, match=r"store\.url is SQLite"):
            restore(archive, tmp_path / "wrong", sqlite_url(tmp_path / "wrong" / "guardian.sqlite3"))
        restore(archive, tmp_path / "restored", target)

        async def probe() -> list[int]:
            async with open_store(target, migrate=False) as store, store.engine.connect() as conn:
                return [r[0] for r in await conn.execute(text("SELECT x FROM probe"))]

        assert asyncio.run(probe()) == [42]
        with pytest.raises(ConfigError, match="already holds a schema"):
            restore(archive, tmp_path / "again", target)
        restore(archive, tmp_path / "again", target, force=True)
        assert asyncio.run(probe()) == [42]
