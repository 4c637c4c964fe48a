"""The durable local spool: every message is committed here before the broker gets its PUBACK.

SQLite in WAL mode. One writer thread owns the write connection and commits whole batches (one transaction
per socket-read-sized batch, so commit cost is shared by thousands of messages); readers use their own
connection on another thread, which WAL lets run beside the writer. Message ids are the table's rowids:
dense and increasing, so every later stage follows the spool with a single integer cursor.

The spool is also where rejected messages are kept (`quarantine`) and where stage cursors survive a crash
(`cursor`). Rows are trimmed once every stage is past them and they are older than `keep_hours`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

from gateway.errors import SpoolError
from sensors.columns import RawMessage, Rejection

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id      INTEGER PRIMARY KEY,
    recv_us INTEGER NOT NULL,
    topic   TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS cursor (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    msg_id  INTEGER NOT NULL,
    item    INTEGER NOT NULL,
    recv_us INTEGER NOT NULL,
    topic   TEXT NOT NULL,
    reason  TEXT NOT NULL,
    detail  TEXT NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (msg_id, item)
);
CREATE INDEX IF NOT EXISTS quarantine_reason ON quarantine (reason, recv_us);
"""

# A spool written before receive times were integers: seconds as REAL in a column named `recv`.
_UPGRADE = """
ALTER TABLE {table} RENAME COLUMN recv TO recv_us;
UPDATE {table} SET recv_us = CAST(round(recv_us * 1000000) AS INTEGER);
"""


class Spool:
    """Open with `async with Spool(path) as spool:`; every method is a coroutine run off the event loop."""

    def __init__(self, path: Path, *, synchronous: Literal["NORMAL", "FULL"] = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="spool-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="spool-reader")
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self.last_id = 0

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def __aenter__(self) -> Spool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._on(self._writer, self._open_writer)
        await self._on(self._reader, self._open_reader)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._on(self._writer, self._close, "_wconn")
        await self._on(self._reader, self._close, "_rconn")
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot open spool {self.path}: {exc}") from exc
        return conn

    def _open_writer(self) -> None:
        conn = self._connect()
        for table in ("message", "quarantine"):
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if "recv" in columns:
                conn.execute("DROP INDEX IF EXISTS quarantine_reason")
                conn.executescript(f"BEGIN; {_UPGRADE.format(table=table)} COMMIT;")
        conn.executescript(_SCHEMA)
        conn.execute("PRAGMA wal_autocheckpoint=10000")
        self._wconn = conn
        # After a full trim the table is empty and SQLite would reuse ids from 1; the cursors remember how
        # far ids went, and `_append` never hands out an id at or below `last_id`.
        top_message = conn.execute("SELECT coalesce(max(id), 0) FROM message").fetchone()[0]
        top_cursor = conn.execute("SELECT coalesce(max(value), 0) FROM cursor").fetchone()[0]
        self.last_id = max(top_message, top_cursor)

    def _open_reader(self) -> None:
        self._rconn = self._connect()

    def _close(self, attr: str) -> None:
        conn = getattr(self, attr)
        if conn is not None:
            conn.close()
            setattr(self, attr, None)

    @staticmethod
    async def _on(pool: ThreadPoolExecutor, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    # -- writing -------------------------------------------------------------------------------------------
    @property
    def next_id(self) -> int:
        """The id the next appended message must carry (the spool has a single writer: the ingest)."""
        return self.last_id + 1

    async def append(self, messages: Sequence[RawMessage]) -> None:
        """Commit messages numbered from `next_id` on; durable when it returns."""
        if messages[0].id != self.next_id:
            raise SpoolError(f"append must start at id {self.next_id}, not {messages[0].id}")
        await self._on(self._writer, self._append, messages)
        self.last_id = messages[-1].id

    def _append(self, messages: Sequence[RawMessage]) -> None:
        conn = self._wconn
        assert conn is not None
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO message (id, recv_us, topic, payload) VALUES (?, ?, ?, ?)", messages
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise SpoolError(f"spool commit failed: {exc}") from exc

    async def quarantine(self, rejections: Iterable[Rejection]) -> None:
        rows = [(r.msg_id, r.item, r.recv, r.topic, str(r.reason), r.detail, r.payload) for r in rejections]
        if rows:
            await self._on(
                self._writer,
                self._write_many,
                "INSERT OR IGNORE INTO quarantine VALUES (?,?,?,?,?,?,?)",
                rows,
            )

    async def set_cursors(self, cursors: dict[str, int]) -> bool:
        """False when the write failed (disk full): a cursor only saves work after a restart, and one left
        behind is safe (the stages redo what follows it, idempotently), so the caller carries on."""
        try:
            await self._on(
                self._writer,
                self._write_many,
                "INSERT OR REPLACE INTO cursor (name, value) VALUES (?, ?)",
                list(cursors.items()),
            )
        except SpoolError as exc:
            log.warning("stage cursors not saved: %s", exc)
            return False
        return True

    def _write_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        conn = self._wconn
        assert conn is not None
        try:
            conn.execute("BEGIN")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise SpoolError(f"spool write failed: {exc}") from exc

    async def trim(self, *, through_id: int, older_than: float, quarantine_before: float = 0.0) -> int:
        """Delete messages every stage has passed (id <= through_id) that arrived before `older_than`, and
        quarantined ones received before `quarantine_before` (they may hold door pseudonyms); UNIX seconds.
        A trim that fails (disk full: deleting needs room in the WAL too) deletes nothing and returns 0."""
        before_us, quarantine_us = round(older_than * 1e6), round(quarantine_before * 1e6)
        try:
            return int(await self._on(self._writer, self._trim, through_id, before_us, quarantine_us))
        except SpoolError as exc:
            log.warning("spool not trimmed: %s", exc)
            return 0

    def _trim(self, through_id: int, before_us: int, quarantine_us: int) -> int:
        conn = self._wconn
        assert conn is not None
        try:
            conn.execute("BEGIN")
            cur = conn.execute("DELETE FROM message WHERE id <= ? AND recv_us < ?", (through_id, before_us))
            conn.execute("DELETE FROM quarantine WHERE recv_us < ?", (quarantine_us,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise SpoolError(f"spool trim failed: {exc}") from exc
        return cur.rowcount

    # -- reading -------------------------------------------------------------------------------------------
    async def read(self, after: int, limit: int, until: int | None = None) -> list[RawMessage]:
        return list(await self._on(self._reader, self._read, after, limit, until))

    def _read(self, after: int, limit: int, until: int | None) -> list[RawMessage]:
        conn = self._rconn
        assert conn is not None
        upper = until if until is not None else 2**62
        rows = conn.execute(
            "SELECT id, recv_us, topic, payload FROM message WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
            (after, upper, limit),
        ).fetchall()
        return [RawMessage(*row) for row in rows]

    async def cursor(self, name: str) -> int | None:
        row = await self._on(
            self._reader,
            lambda: self._rconn.execute("SELECT value FROM cursor WHERE name = ?", (name,)).fetchone(),  # type: ignore[union-attr]
        )
        return None if row is None else int(row[0])

    async def last_recv(self) -> int:
        """The latest receive time (µs) the spool or its quarantine holds: receive times keep increasing
        across a restart, even after a trim emptied the message table."""
        sql = (
            "SELECT max(coalesce((SELECT max(recv_us) FROM message), 0),"
            " coalesce((SELECT max(recv_us) FROM quarantine), 0))"
        )
        row = await self._on(self._reader, lambda: self._rconn.execute(sql).fetchone())  # type: ignore[union-attr]
        return int(row[0] or 0)

    async def tail(self, n: int) -> list[RawMessage]:
        """The last n messages, oldest first (to seed the redelivery filter after a restart)."""
        return await self.read(max(0, self.last_id - n), n)


def _rollback(conn: sqlite3.Connection) -> None:
    """After a failed write; SQLite may already have rolled back (SQLITE_FULL does), and a ROLLBACK that
    fails too must not hide the first error."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
