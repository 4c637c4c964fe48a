"""The alarm book: every transition the engine emits, kept as the alarm's current state and its history,
and announced to whoever watches the live stream (the control room's board).

The engine stays the authority on conditions and timers; the book adds what only people do (assign,
comment, resolve) and keeps it where the API can filter and page it. Transitions arrive through a bounded
queue and are written in batches, one transaction each. Should the queue ever fill (the database stalled for
minutes in an alarm storm), the book notes it and, once writing again, copies the engine's open alarms in
whole, so what the API shows converges on the truth instead of silently missing an alarm.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.alarm import Alarm as LiveAlarm
from alerts.evidence import as_dict
from alerts.signals import Transition
from gateway.store.db import Store
from gateway.store.schema import Alarm, AlarmEvent

log = logging.getLogger(__name__)

OPEN = ("active", "acknowledged", "returned")
"""States an alarm is in while someone still has to act on it. `returned`: the condition is over but nobody
acknowledged (ISA-18.2's "return to normal, unacknowledged"); `closed` and `resolved` are history."""
STATES = (*OPEN, "closed", "resolved")


def public(a: Alarm) -> dict[str, Any]:
    return {
        "alarm_id": a.alarm_id,
        "site": a.site,
        "rule": a.rule,
        "severity": a.severity,
        "subject": a.subject,
        "building": a.building,
        "unit": a.unit,
        "household": a.household,
        "state": a.state,
        "raised_ts": a.raised_ts,
        "updated_ts": a.updated_ts,
        "acked_ts": a.acked_ts,
        "acked_by": a.acked_by,
        "cleared_ts": a.cleared_ts,
        "resolved_ts": a.resolved_ts,
        "resolved_by": a.resolved_by,
        "assignee": a.assignee,
        "escalation": a.escalation,
        "group": a.group_id,
        "planned": a.notified,  # the audiences the rules chose; who was reached is the notifier's to say
    }


class Watchers:
    """Live-stream subscribers, each with a small bounded queue; one that cannot keep up is cut off (its
    browser reconnects and reloads the board) rather than slowing the book or growing without bound."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.queues: set[asyncio.Queue[dict[str, Any] | None]] = set()

    def open(self) -> asyncio.Queue[dict[str, Any] | None]:
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self.size)
        self.queues.add(q)
        return q

    def close(self, q: asyncio.Queue[dict[str, Any] | None]) -> None:
        self.queues.discard(q)

    def publish(self, event: dict[str, Any]) -> None:
        for q in list(self.queues):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                self.queues.discard(q)
                q.get_nowait()
                q.put_nowait(None)  # the stream's end: the client reconnects


async def insert_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """alarm_event rows, each once: a transition re-emitted after a restart is already there."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(AlarmEvent).on_conflict_do_nothing(), rows)


class AlarmBook:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float],
        live_alarms: Callable[[], Iterable[LiveAlarm]] = list,
        queue: int = 20_000,
        batch: int = 500,
        sites: Collection[str] | None = None,
        fence: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> None:
        """`sites`: the sites whose alarms this book keeps (a district partition's; None: all);
        `fence`: run first in every writing transaction, raising to refuse it (a partition's lease)."""
        self.store = store
        self.sites = None if sites is None else sorted(sites)
        self.fence = fence
        self.clock = clock
        self.live_alarms = live_alarms
        self.queue: asyncio.Queue[Transition] = asyncio.Queue(queue)
        self.batch = batch
        self.watchers = Watchers()
        self.overflowed = 0
        self.written = 0
        self._offered = 0
        self._progress = asyncio.Condition()

    # -- in --------------------------------------------------------------------------------------------

    def offer(self, t: Transition) -> None:
        """The engine's listener: never blocks the engine."""
        try:
            self.queue.put_nowait(t)
            self._offered += 1
        except asyncio.QueueFull:
            if not self.overflowed:
                log.error("alarm book queue full: the store is behind; it will be copied from the engine")
            self.overflowed += 1

    async def run(self) -> None:
        await self.sync_live()
        while True:
            first = await self.queue.get()
            batch = [first]
            while len(batch) < self.batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await self._write(batch)
            if self.overflowed:
                self.overflowed = 0
                await self.sync_live()

    async def drained(self) -> None:
        """Wait until everything offered so far is written (the API answers after its own change lands)."""
        target = self._offered
        async with self._progress:
            await self._progress.wait_for(lambda: self.written >= target)

    async def _write(self, batch: list[Transition]) -> None:
        """One transaction: the batch's alarms read in one query, their history inserted in one statement."""
        last: dict[str, str] = {}  # alarm id -> its batch's last transition, for the stream
        async with self.store.session() as session, session.begin():
            if self.fence is not None:
                await self.fence(session)
            ids = sorted({t.alarm_id for t in batch})
            known = {
                a.alarm_id: a for a in await session.scalars(select(Alarm).where(Alarm.alarm_id.in_(ids)))
            }
            for t in batch:
                known[t.alarm_id] = alarm = _apply(known.get(t.alarm_id), t)
                session.add(alarm)
                last[t.alarm_id] = t.transition
            await insert_events(
                session,
                [
                    {
                        "alarm_id": t.alarm_id,
                        "ts": t.ts,
                        "kind": t.transition,
                        "by": t.by or "",
                        "severity": str(t.severity),
                        "note": "",
                    }
                    for t in batch
                ],
            )
        for alarm_id, kind in last.items():
            self.watchers.publish({"event": kind, "alarm": public(known[alarm_id])})
        async with self._progress:
            self.written += len(batch)
            self._progress.notify_all()

    async def sync_live(self) -> None:
        """Make the book agree with the engine (at start, and after an overflow): its open alarms copied in,
        and alarms the book still shows open that the engine no longer has closed. Those are transitions
        lost on the way (the gateway killed between the engine and this book, an overflow) or an alarm
        whose rule state was rebuilt after a lost snapshot: left open, they would sit on the board forever."""
        alarms = list(self.live_alarms())
        live = {a.alarm_id for a in alarms}
        now = self.clock()
        closed: list[Alarm] = []
        async with self.store.session() as session, session.begin():
            if self.fence is not None:
                await self.fence(session)
            for a in alarms:
                row = await session.get(Alarm, a.alarm_id) or _new(a.alarm_id, a)
                row.severity = str(a.severity)
                row.escalation = a.escalation_step
                row.notified = [str(x) for x in a.notified]
                row.acked_ts, row.acked_by = a.acked_ts, a.acked_by
                if row.state not in ("resolved",):
                    row.state = _live_state(a)
                row.updated_ts = max(row.updated_ts, a.last_ts)
                session.add(row)
            still_open = select(Alarm).where(Alarm.state.in_(OPEN))
            if self.sites is not None:
                still_open = still_open.where(Alarm.site.in_(self.sites))
            for row in await session.scalars(still_open):
                if row.alarm_id not in live:
                    row.state, row.cleared_ts, row.updated_ts = "closed", row.cleared_ts or now, now
                    closed.append(row)
            if closed:
                await insert_events(
                    session,
                    [
                        {
                            "alarm_id": row.alarm_id,
                            "ts": now,
                            "kind": "cleared",
                            "by": "gateway",
                            "severity": row.severity,
                            "note": "no longer open in the rules (restart or lost updates)",
                        }
                        for row in closed
                    ],
                )
        for row in closed:
            self.watchers.publish({"event": "cleared", "alarm": public(row)})
        if alarms or closed:
            log.info(
                "alarm book: %d open alarm(s) copied from the engine, %d it no longer has closed",
                len(alarms),
                len(closed),
            )

    # -- what people do ----------------------------------------------------------------------------------

    async def annotate(
        self, alarm_id: str, kind: str, by: str, note: str = "", **changes: Any
    ) -> dict[str, Any] | None:
        """A comment, an assignment or a resolution: the history row, the alarm's new state, the stream."""
        now = self.clock()
        async with self.store.session() as session, session.begin():
            alarm = await session.get(Alarm, alarm_id)
            if alarm is None:
                return None
            for k, v in changes.items():
                setattr(alarm, k, v)
            alarm.updated_ts = max(alarm.updated_ts, now)
            await insert_events(
                session,
                [{"alarm_id": alarm_id, "ts": now, "kind": kind, "by": by, "severity": "", "note": note}],
            )
        row = public(alarm)
        self.watchers.publish({"event": kind, "alarm": row})
        return row

    async def history(self, alarm_id: str) -> list[dict[str, Any]]:
        async with self.store.session() as session:
            rows = await session.scalars(
                select(AlarmEvent)
                .where(AlarmEvent.alarm_id == alarm_id)
                .order_by(AlarmEvent.ts, AlarmEvent.id)
            )
            return [
                {"ts": e.ts, "kind": e.kind, "by": e.by, "severity": e.severity, "note": e.note}
                for e in rows.all()
            ]


def _new(alarm_id: str, live: LiveAlarm | Transition) -> Alarm:
    w = live.where
    raised = live.raised_ts if isinstance(live, LiveAlarm) else (live.raised_ts or live.ts)
    return Alarm(
        alarm_id=alarm_id,
        site=w.site,
        rule=live.rule,
        severity=str(live.severity),
        subject=live.subject,
        building=w.building,
        unit=w.unit,
        household=w.household,
        state="active",
        raised_ts=raised,
        updated_ts=raised,
        escalation=0,
        notified=[],
        evidence=[],
    )


def _live_state(live: LiveAlarm) -> str:
    if not live.condition and not live.acked:
        return "returned"
    return "acknowledged" if live.acked else "active"


def _apply(alarm: Alarm | None, t: Transition) -> Alarm:
    """One transition onto the alarm's row (see OPEN for the states)."""
    if alarm is None:
        alarm = _new(t.alarm_id, t)
    alarm.updated_ts = max(alarm.updated_ts, t.ts)
    alarm.severity = str(t.severity)
    alarm.group_id = t.group
    if t.notify:
        alarm.notified = sorted(set(alarm.notified) | {str(a) for a in t.notify})
    if t.evidence:
        alarm.evidence = [*alarm.evidence, *(as_dict(e) for e in t.evidence)][-20:]
    kind = t.transition
    if alarm.state == "resolved":
        return alarm
    if kind == "raised":
        alarm.state = "acknowledged" if alarm.acked_ts is not None else "active"
    elif kind == "updated" and alarm.state in ("returned", "closed"):
        alarm.state, alarm.cleared_ts = "active", None  # the condition came back
    elif kind == "escalated":
        alarm.escalation += 1
    elif kind == "acknowledged":
        alarm.acked_ts, alarm.acked_by = t.ts, t.by
        alarm.state = "closed" if alarm.state == "returned" else "acknowledged"
    elif kind == "cleared":
        alarm.cleared_ts = t.ts
        alarm.state = "closed" if alarm.acked_ts is not None else "returned"
    return alarm
