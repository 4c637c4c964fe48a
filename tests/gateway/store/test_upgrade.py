"""A store made by an earlier release (tests/fixtures/upgrade/guardian.sqlite3, at that code's newest
migration, with its registry imported) migrates to this code's schema at open and keeps what it held."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import text

from gateway.store.db import HEAD, open_store, revision, sqlite_url

UPGRADE = Path(__file__).resolve().parents[2] / "fixtures" / "upgrade"


async def test_the_previous_release_store_migrates(tmp_path: Path) -> None:
    old = json.loads((UPGRADE / "expected.json").read_text())["store_revision"]
    path = tmp_path / "guardian.sqlite3"
    shutil.copyfile(UPGRADE / "guardian.sqlite3", path)
    async with open_store(sqlite_url(path), migrate=False) as store, store.engine.connect() as conn:
        assert await conn.run_sync(revision) == old != HEAD
    async with open_store(sqlite_url(path)) as store, store.engine.connect() as conn:
        assert await conn.run_sync(revision) == HEAD
        rows = (await conn.execute(text("SELECT site, id FROM household"))).all()
        assert [tuple(r) for r in rows] == [("t1", "b1-u1-101")]
        # the tables later migrations made are there and usable
        assert (await conn.execute(text("SELECT count(*) FROM duty_shift"))).scalar() == 0
