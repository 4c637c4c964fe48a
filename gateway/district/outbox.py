"""A partition's outbox in the district's relational store (PostgreSQL), fenced by the partition's lease.

On one box the outbox is a SQLite file beside the spool; in a district a partition moves between instances,
so its deliveries live where every instance reads them: the store's `outbox_delivery` table, each row keyed
by the delivery's idempotency key (alarm id, transition and its time, recipient, channel, address) and
marked with its partition. A new owner loads the partition's open rows on claim and sends what was pending;
replaying the stream from the snapshot's sequence re-plans the same keys, and `INSERT ... ON CONFLICT DO
NOTHING` keeps only those never planned, so nothing is sent twice for being planned twice.

Every writing transaction first moves the partition's row in `outbox_fence` to this owner's lease revision
(the fencing token, `gateway.district.lease`), and only forward: once a new owner has written, a write with
an older revision finds the row ahead of it and is refused whole (`LeaseLost`). Sends cannot be fenced at
the provider, so the sender asks the fence before each batch (`confirm`: the local deadline, then the row)
and the local deadline again before each send (`check`). What a fault can still cost is the one send that
was on the wire, or accepted but not yet saved as sent, when the owner died: at most one duplicate.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.district.lease import Lease
from gateway.errors import LeaseLost
from gateway.notify.outbox import OPEN_STATES, Delivery
from gateway.store.db import Store
from gateway.store.schema import NotifySecret, OutboxDelivery, OutboxFence


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


IDLE_MS = 3000
"""A fenced transaction left idle this long is ended by the server (its writes take milliseconds)."""
LOCK_MS = 10_000
"""The longest a fenced transaction waits for the fence row (then it fails and the partition restarts)."""
_TIMEOUTS = text(
    f"SELECT set_config('idle_in_transaction_session_timeout', '{IDLE_MS}', true),"
    f" set_config('lock_timeout', '{LOCK_MS}', true)"
)


class Fence:
    """A partition's lease as the store and the sender see it."""

    def __init__(self, store: Store, lease: Lease, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.lease = lease
        self.clock = clock
        self.refused = 0
        """Writes and send batches refused because the lease was no longer ours."""
        self.serial = asyncio.Lock()
        """The outbox's fenced transactions one at a time: at most one of them holds or waits for the
        fence row, so an owner frozen mid-transaction delays the next owner by one idle timeout, not by
        one per transaction queued behind it."""

    def check(self) -> None:
        """The local deadline (no I/O): false from the moment a frozen owner's lease ran out."""
        if not self.lease.valid():
            self.refused += 1
            raise LeaseLost(f"partition {self.lease.partition}: lease expired; nothing sent or written")

    async def hold(self, session: AsyncSession) -> None:
        """In a writing transaction: the fence row moved to our revision, or the transaction refused.

        The row stays locked until the transaction ends. An owner frozen inside one would hold it, and the
        next owner with it, for as long as it is frozen; so on PostgreSQL the server ends a transaction
        left idle for `IDLE_MS` (the frozen owner's session is cut, its lock released, and it finds its
        connection gone when it wakes), and a wait for the lock gives up after `LOCK_MS`."""
        self.check()
        lease = self.lease
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(_TIMEOUTS)
        insert = _insert(session)
        stmt = insert(OutboxFence).values(
            partition=lease.partition, revision=lease.revision, holder=lease.holder.instance, at=self.clock()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[OutboxFence.partition],
            set_={"revision": stmt.excluded.revision, "holder": stmt.excluded.holder, "at": stmt.excluded.at},
            where=OutboxFence.revision <= stmt.excluded.revision,
        ).returning(OutboxFence.revision)
        if (await session.execute(stmt)).first() is None:
            self.refused += 1
            raise LeaseLost(
                f"partition {lease.partition}: a newer owner has written (our revision {lease.revision}); "
                "nothing sent or written"
            )

    async def confirm(self) -> None:
        """Before a batch of sends: still ours, here and in the store."""
        self.check()
        async with self.serial, self.store.session() as session, session.begin():
            await self.hold(session)


ROWS = 500
"""Rows per statement: 27 columns each, well inside PostgreSQL's 65,535 parameters."""
_FIELDS = list(Delivery.__dataclass_fields__)
"""The delivery's fields, in the order `Delivery.row` gives them: the table's columns but `partition`."""


def _row(d: Delivery, partition: int) -> dict[str, Any]:
    return dict(zip(_FIELDS, d.row(), strict=True)) | {"partition": partition}


def _delivery(r: OutboxDelivery) -> Delivery:
    return Delivery.from_row([getattr(r, n) for n in _FIELDS])


class OutboxReader:
    """The district's deliveries read, never written: an alarm's timeline and who was reached, for any
    alarm of any partition (what an API replica answers with, `gateway.district.replica`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def _select(self, *where: Any) -> list[Delivery]:
        async with self.store.session() as session:
            rows = await session.scalars(
                select(OutboxDelivery).where(*where).order_by(OutboxDelivery.queued_at, OutboxDelivery.key)
            )
            return [_delivery(r) for r in rows]

    async def deliveries_of(self, alarm_id: str) -> list[Delivery]:
        return await self._select(OutboxDelivery.alarm_id == alarm_id)

    async def reached(self, alarm_ids: list[str]) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        async with self.store.session() as session:
            for i in range(0, len(alarm_ids), 500):
                rows = await session.execute(
                    select(OutboxDelivery.alarm_id, OutboxDelivery.audience).where(
                        OutboxDelivery.kind == "alert",
                        OutboxDelivery.audience != "-",
                        OutboxDelivery.sent_at.is_not(None),
                        OutboxDelivery.alarm_id.in_(alarm_ids[i : i + 500]),
                    )
                )
                for alarm_id, audience in rows:
                    out.setdefault(alarm_id, set()).add(audience)
        return {k: sorted(v) for k, v in out.items()}


class PartitionOutbox(OutboxReader):
    """The notifier's `DeliveryStore` for one partition: its rows in the store, every write fenced."""

    def __init__(self, store: Store, partition: int, fence: Fence) -> None:
        super().__init__(store)
        self.partition = partition
        self.fence = fence

    async def add(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Insert; returns the deliveries that were new (the others were planned before a hand-over)."""
        if not deliveries:
            return []
        fresh: set[str] = set()
        async with self.fence.serial, self.store.session() as session, session.begin():
            await self.fence.hold(session)
            for i in range(0, len(deliveries), ROWS):
                stmt = (
                    _insert(session)(OutboxDelivery)
                    .values([_row(d, self.partition) for d in deliveries[i : i + ROWS]])
                    .on_conflict_do_nothing(index_elements=[OutboxDelivery.key])
                    .returning(OutboxDelivery.key)
                )
                fresh.update(k for (k,) in await session.execute(stmt))
        return [d for d in deliveries if d.key in fresh]

    async def save(self, deliveries: list[Delivery]) -> None:
        if not deliveries:
            return
        async with self.fence.serial, self.store.session() as session, session.begin():
            await self.fence.hold(session)
            stmt = _insert(session)(OutboxDelivery).values([_row(d, self.partition) for d in deliveries])
            changed = {c: stmt.excluded[c] for c in _FIELDS if c != "key"}
            await session.execute(
                stmt.on_conflict_do_update(index_elements=[OutboxDelivery.key], set_=changed)
            )

    async def open_deliveries(self) -> list[Delivery]:
        """This partition's deliveries still to be sent or confirmed: what a new owner takes on."""
        return await self._select(
            OutboxDelivery.partition == self.partition, OutboxDelivery.state.in_(OPEN_STATES)
        )

    async def sent_since(self, since: float) -> list[tuple[str, str, float]]:
        """Every send of this partition's sites a provider accepted since then (a site's daily caps)."""
        async with self.store.session() as session:
            rows = await session.execute(
                select(OutboxDelivery.site, OutboxDelivery.channel, OutboxDelivery.sent_at).where(
                    OutboxDelivery.partition == self.partition,
                    OutboxDelivery.sent_at >= since,
                    OutboxDelivery.merged_into.is_(None),
                    OutboxDelivery.state != "merged",
                )
            )
            return [(str(s), str(c), float(t or 0.0)) for s, c, t in rows]

    async def acknowledged(self, alarm_id: str, recipient: str, ts: float) -> list[Delivery]:
        where = (
            OutboxDelivery.alarm_id == alarm_id,
            OutboxDelivery.recipient == recipient,
            OutboxDelivery.acked_at.is_(None),
        )
        async with self.fence.serial, self.store.session() as session, session.begin():
            await self.fence.hold(session)
            rows = [_delivery(r) for r in await session.scalars(select(OutboxDelivery).where(*where))]
            await session.execute(update(OutboxDelivery).where(*where).values(acked_at=ts))
        for d in rows:
            d.acked_at = ts
        return rows

    async def trim(self, older_than: float) -> int:
        """Forget this partition's finished deliveries (their history stays in the time-series store)."""
        async with self.fence.serial, self.store.session() as session, session.begin():
            await self.fence.hold(session)
            done = await session.execute(
                delete(OutboxDelivery).where(
                    OutboxDelivery.partition == self.partition,
                    OutboxDelivery.queued_at < older_than,
                    OutboxDelivery.state.not_in(OPEN_STATES),
                )
            )
        return int(getattr(done, "rowcount", 0) or 0)


async def shared_secret(store: Store, name: str, make: Callable[[], bytes] | None = None) -> bytes:
    """The district's secret `name`, made and kept by whichever instance asks first (a link signed by one
    instance is checked by another); `make` defaults to 32 random bytes."""
    async with store.session() as session, session.begin():
        value = secrets.token_bytes(32) if make is None else bytes(make())
        stmt = _insert(session)(NotifySecret).values(name=name, value=value).on_conflict_do_nothing()
        await session.execute(stmt)
    async with store.session() as session:
        kept = await session.get(NotifySecret, name)
    assert kept is not None
    return bytes(kept.value)
