"""The durable outbox: every (alarm transition, recipient, channel) is a row before anything is sent.

SQLite in WAL mode with synchronous=NORMAL: a commit survives SIGKILL of the gateway (the outbox's promise)
at a fraction of FULL's cost, so planning adds ~1 ms before the first send. The row key is the delivery's
idempotency key: a transition re-emitted after a restart (the alert engine replays the spool past its
snapshot) plans the same keys, and `add` keeps only the new ones. One thread owns the connection.

The gateway's own keys (VAPID, link secret, API token key) live here too. Push subscriptions did until the
relational store arrived (the gateway moves them there at start, `gateway.store.subscriptions`); the
notifier's own tests still keep them here.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Literal, Protocol

from gateway.notify.messages import Message, decode, encode
from gateway.subscription import Subscription

State = Literal["standby", "queued", "sent", "delivered", "failed", "merged", "cancelled"]
OPEN_STATES = ("standby", "queued", "sent")


@dataclass(slots=True, kw_only=True)
class Delivery:
    key: str
    alarm_id: str
    kind: Literal["alert", "follow-up", "notice"]
    """A notice tells of a work order (`gateway.notify.order_notices`): `alarm_id` is the order's id."""
    transition: str
    ts: float
    site: str
    building: str
    rule: str
    severity: str
    recipient: str
    audience: str
    channel: str
    target: str
    rank: int
    state: State
    next_at: float
    queued_at: float
    attempts: int = 0
    sent_at: float | None = None
    delivered_at: float | None = None
    failed_at: float | None = None
    acked_at: float | None = None
    error: str = ""
    merged_into: str | None = None
    message: Message

    def row(self) -> tuple[Any, ...]:
        """The outbox row: the columns in order, the message as its JSON text."""
        values = [getattr(self, name) for name in _COLUMNS]
        values[-1] = encode(self.message)
        return tuple(values)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Delivery:
        """A row this release or the previous one wrote (the message was a JSON object then too)."""
        values = list(row)
        values[-1] = decode(values[-1])
        return cls(**dict(zip(_COLUMNS, values, strict=True)))

    def public(self) -> dict[str, Any]:
        """What the API shows of a delivery: its path and times, not the message."""
        return {name: getattr(self, name) for name in _COLUMNS if name not in ("message", "target")}


_COLUMNS = [f.name for f in fields(Delivery)]
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS delivery (
    key TEXT PRIMARY KEY,
    {", ".join(c + " NOT NULL" if c in ("alarm_id", "recipient", "state") else c for c in _COLUMNS[1:])}
);
CREATE INDEX IF NOT EXISTS delivery_open ON delivery (state) WHERE state IN {OPEN_STATES!r};
CREATE INDEX IF NOT EXISTS delivery_alarm ON delivery (alarm_id);
CREATE TABLE IF NOT EXISTS subscription (
    id       TEXT PRIMARY KEY,
    site     TEXT NOT NULL,
    person   TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    p256dh   TEXT NOT NULL,
    auth     TEXT NOT NULL,
    created  REAL NOT NULL,
    agent    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS subscription_person ON subscription (site, person);
CREATE TABLE IF NOT EXISTS secret (name TEXT PRIMARY KEY, value BLOB NOT NULL);
"""
_INSERT = f"INSERT OR IGNORE INTO delivery VALUES ({','.join('?' * len(_COLUMNS))})"
_REPLACE = f"INSERT OR REPLACE INTO delivery VALUES ({','.join('?' * len(_COLUMNS))})"


class DeliveryStore(Protocol):
    """What the notifier keeps its deliveries in: this file's SQLite outbox on one box, the relational
    store's for a district's partition (`gateway.district.outbox`)."""

    async def add(self, deliveries: list[Delivery]) -> list[Delivery]: ...
    async def save(self, deliveries: list[Delivery]) -> None: ...
    async def open_deliveries(self) -> list[Delivery]: ...
    async def reached(self, alarm_ids: list[str]) -> dict[str, list[str]]: ...
    async def sent_since(self, since: float) -> list[tuple[str, str, float]]: ...
    async def deliveries_of(self, alarm_id: str) -> list[Delivery]: ...
    async def acknowledged(self, alarm_id: str, recipient: str, ts: float) -> list[Delivery]: ...


class OutboxStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self._conn: sqlite3.Connection | None = None

    async def __aenter__(self) -> OutboxStore:
        await self._run(self._open)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._run(self._close)
        self._thread.shutdown(wait=True)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        self.path.chmod(0o600)  # it holds the VAPID private key and the link-signing secret
        self._conn = conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "outbox not open"
        return self._conn

    # -- deliveries ---------------------------------------------------------------------------------------
    async def add(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Insert; returns the deliveries that were new (the others were planned before a restart)."""
        return list(await self._run(self._add, deliveries))

    def _add(self, deliveries: list[Delivery]) -> list[Delivery]:
        fresh = []
        with self.conn:
            self.conn.execute("BEGIN")
            for d in deliveries:
                if self.conn.execute(_INSERT, d.row()).rowcount:
                    fresh.append(d)
        return fresh

    async def save(self, deliveries: list[Delivery]) -> None:
        if deliveries:
            rows = [d.row() for d in deliveries]
            await self._run(self._many, _REPLACE, rows)

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(sql, rows)

    async def open_deliveries(self) -> list[Delivery]:
        return list(await self._run(self._select, f"state IN {OPEN_STATES!r}", ()))

    async def reached(self, alarm_ids: list[str]) -> dict[str, list[str]]:
        """The audiences each alarm's alerts reached: a delivery to a person that an address accepted."""

        def query() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for i in range(0, len(alarm_ids), 500):
                part = alarm_ids[i : i + 500]
                cur = self.conn.execute(
                    "SELECT DISTINCT alarm_id, audience FROM delivery"
                    " WHERE kind = 'alert' AND audience != '-'"
                    f" AND sent_at IS NOT NULL AND alarm_id IN ({','.join('?' * len(part))})",
                    part,
                )
                for alarm_id, audience in cur:
                    out.setdefault(alarm_id, []).append(audience)
            return {k: sorted(v) for k, v in out.items()}

        found: dict[str, list[str]] = await self._run(query)
        return found

    async def sent_since(self, since: float) -> list[tuple[str, str, float]]:
        """(site, channel, sent_at) of every send a provider accepted since then, digests once (the
        deliveries a digest carried share its `sent_at` but were not sent on their own)."""

        def query() -> list[tuple[str, str, float]]:
            cur = self.conn.execute(
                "SELECT site, channel, sent_at FROM delivery"
                " WHERE sent_at >= ? AND merged_into IS NULL AND state != 'merged'",
                (since,),
            )
            return [(str(s), str(c), float(t)) for s, c, t in cur]

        return list(await self._run(query))

    async def deliveries_of(self, alarm_id: str) -> list[Delivery]:
        return list(await self._run(self._select, "alarm_id = ?", (alarm_id,)))

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Delivery]:
        cur = self.conn.execute(f"SELECT * FROM delivery WHERE {where} ORDER BY queued_at, key", args)
        return [Delivery.from_row(row) for row in cur]

    async def acknowledged(self, alarm_id: str, recipient: str, ts: float) -> list[Delivery]:
        """Stamp the recipient's deliveries of this alarm as acknowledged; returns those stamped now."""

        def stamp() -> list[Delivery]:
            where = "alarm_id = ? AND recipient = ? AND acked_at IS NULL"
            rows = self._select(where, (alarm_id, recipient))
            with self.conn:
                self.conn.execute(
                    f"UPDATE delivery SET acked_at = ? WHERE {where}", (ts, alarm_id, recipient)
                )
            for d in rows:
                d.acked_at = ts
            return rows

        return list(await self._run(stamp))

    async def trim(self, older_than: float) -> int:
        """Forget finished deliveries; their history stays in InfluxDB (measurement `notification`)."""

        def trim() -> int:
            with self.conn:
                placeholders = ",".join("?" * len(OPEN_STATES))
                cur = self.conn.execute(
                    f"DELETE FROM delivery WHERE queued_at < ? AND state NOT IN ({placeholders})",
                    (older_than, *OPEN_STATES),
                )
            return cur.rowcount

        return int(await self._run(trim))

    # -- push subscriptions ---------------------------------------------------------------------------------
    async def subscribe(self, sub: Subscription) -> None:
        await self._run(
            self._many, "INSERT OR REPLACE INTO subscription VALUES (?,?,?,?,?,?,?,?)", [astuple(sub)]
        )

    async def unsubscribe(self, sub_id: str) -> None:
        await self._run(self._many, "DELETE FROM subscription WHERE id = ?", [(sub_id,)])

    async def subscriptions(self) -> list[Subscription]:
        rows = await self._run(lambda: self.conn.execute("SELECT * FROM subscription").fetchall())
        return [Subscription(*row) for row in rows]

    # -- the gateway's own keys -------------------------------------------------------------------------
    async def secret(self, name: str, make: Any) -> bytes:
        """The stored secret `name`, made by `make()` and stored on first use."""

        def get() -> bytes:
            row = self.conn.execute("SELECT value FROM secret WHERE name = ?", (name,)).fetchone()
            if row is not None:
                return bytes(row[0])
            value = bytes(make())
            with self.conn:
                self.conn.execute("INSERT INTO secret VALUES (?, ?)", (name, value))
            return value

        return bytes(await self._run(get))
