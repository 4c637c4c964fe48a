"""Quarantined messages age out like the door events they may hold."""

from __future__ import annotations

import asyncio
import sqlite3

from gateway.pipeline.spool import Spool
from sensors.columns import RawMessage, rejection
from sensors.rejections import Reason


def test_quarantine_is_trimmed_by_age(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        async with Spool(tmp_path / "spool.sqlite3") as spool:
            old = RawMessage(1, 1_000_000_000, "guardian/t1/door/d-1/event", b'{"person": "p-1"}')
            new = RawMessage(2, 5_000_000_000, "guardian/t1/door/d-1/event", b'{"person": "p-2"}')
            await spool.quarantine([rejection(m, Reason.INVALID_FIELD, "x") for m in (old, new)])
            await spool.trim(through_id=0, older_than=0.0, quarantine_before=3000.0)

    asyncio.run(go())
    with sqlite3.connect(tmp_path / "spool.sqlite3") as db:
        assert db.execute("SELECT msg_id FROM quarantine").fetchall() == [(2,)]
