"""The order-clock watcher: at 50 %, 80 % and 100 % of an order's time to claim and time to resolve, the
order is escalated (督办), once per order, clock and level, and the level's people are told.

One timer heap over every open order, like the deliveries book's and the alarm lifecycle's (entries
`(at, seq, order, clock, level, version)`; an entry whose order has changed since is stale and skipped, so
nothing is ever removed from the middle). It is built from the store at start and updated by `offer`, the
listener every order change calls after its commit (`work_orders.create`/`act`, the order desk). A
threshold is `due - (1 - level) * clock`: the due times already move on by the time spent on hold
(`order_flow`), and while an order is on hold, or once its clock has stopped (claimed, resolved), it has no
timers. A reopened order runs fresh clocks, and its levels fire again.

Each escalation is an appended order event (`escalated`, data `{clock, level, due}`), so which levels have
fired is read back from the event table at start: a new watcher over the same store fires none twice. The
watcher re-reads the order's state in the same unit of work before it writes, so an order claimed a moment
ago (here or by another gateway of a district) is not escalated. Notices (escalations, and the requester's
claimed and resolved news) go to the notifier behind a bounded queue; on start the last hour's are handed
over again, and the outbox's keys (order id + event id) keep a restart from sending any twice.

Time is the caller's clock (event time in tests and the benchmark: hours in seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import insert, select

from gateway.notify.order_notices import LEVELS, Kind, Notice, timeline_note
from gateway.store.db import Store
from gateway.store.order_flow import FINISHED, UNCLAIMED, clocks
from gateway.store.schema import WorkOrder, WorkOrderEvent

log = logging.getLogger(__name__)

ACTOR = "guardian"
ESCALATED = "escalated"
TOLD = ("claim", "resolve")
"""The actions whose news goes to the person who asked."""
BATCH = 1000
"""Escalations written in one unit of work at most."""
QUEUE = 10_000
"""Notices waiting for the notifier. Beyond this a notice is dropped, counted and logged: the escalation
itself is recorded, and the next start's replay (the last `REPLAY_S`) hands it over again."""
REPLAY_S = 3600.0
COMPACT = 12
"""Stale entries (an order changed since they were pushed) leave the heap when they come to the top; past
this many entries per open order (six are live at most) the heap is rebuilt without them."""
IDLE_S = 60.0
"""The longest the watcher sleeps with nothing due (a change wakes it at once)."""

Sleep = Callable[[float], Awaitable[None]]


class Order(Protocol):
    """What the watcher reads of an order: a `WorkOrder`, or a row of `ORDER_COLUMNS`."""

    @property
    def id(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def building(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def household(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def priority(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def requester(self) -> str: ...
    @property
    def resolution(self) -> str: ...
    @property
    def held_since(self) -> float | None: ...
    @property
    def claim_due_ts(self) -> float: ...
    @property
    def resolve_due_ts(self) -> float: ...


ORDER_COLUMNS = (
    WorkOrder.id, WorkOrder.site, WorkOrder.building, WorkOrder.unit, WorkOrder.household, WorkOrder.category,
    WorkOrder.priority, WorkOrder.state, WorkOrder.requester, WorkOrder.resolution, WorkOrder.held_since,
    WorkOrder.claim_due_ts, WorkOrder.resolve_due_ts,
)  # fmt: skip


@dataclass(slots=True)
class Track:
    """What the watcher keeps of one open order."""

    site: str
    building: str
    unit: str
    household: str
    category: str
    priority: str
    state: str
    held: bool
    claim_due: float
    resolve_due: float
    version: int = 0
    fired: set[tuple[str, int]] = field(default_factory=set)
    """(clock, level) escalated in this round (since the order was filed or last reopened)."""

    def thresholds(self) -> list[tuple[float, str, int]]:
        """(when, clock, level) of the levels still to come for the clocks that run now."""
        if self.held or self.state in FINISHED:
            return []
        claim_s, resolve_s = clocks(self.category, self.priority)
        running = [("resolve", self.resolve_due, resolve_s)]
        if self.state in UNCLAIMED:
            running.insert(0, ("claim", self.claim_due, claim_s))
        return [
            (due - (1 - level / 100) * span, clock, level)
            for clock, due, span in running
            for level in LEVELS
            if (clock, level) not in self.fired
        ]


def _track(o: Order) -> Track:
    return Track(
        o.site, o.building, o.unit, o.household, o.category, o.priority, o.state, o.held_since is not None,
        o.claim_due_ts, o.resolve_due_ts,
    )  # fmt: skip


class OrderClock:
    def __init__(
        self,
        store: Store,
        tell: Callable[[list[Notice]], Awaitable[int]] | None,
        *,
        clock: Callable[[], float],
        queue: int = QUEUE,
    ) -> None:
        """`tell`: the notifier's (`Notifier.tell`); None: escalations are recorded, nobody is told."""
        self.store = store
        self._tell = tell
        self.clock = clock
        self.tracks: dict[str, Track] = {}
        self.heap: list[tuple[float, int, str, str, int, int]] = []
        self._seq = itertools.count()
        self.notices: asyncio.Queue[Notice] = asyncio.Queue(queue)
        self._wake = asyncio.Event()
        self.escalated = 0
        self.dropped = 0
        self.lateness: list[float] = []
        """Seconds from each threshold to its escalation's commit, for the benchmark (kept if `measure`)."""
        self.measure = False

    # -- the heap -----------------------------------------------------------------------------------
    def _arm(self, order_id: str, t: Track) -> None:
        t.version += 1
        for at, clock, level in t.thresholds():
            heapq.heappush(self.heap, (at, next(self._seq), order_id, clock, level, t.version))
        if len(self.heap) > COMPACT * max(len(self.tracks), 1000):
            self.heap = [entry for entry in self.heap if self._current(entry)]
            heapq.heapify(self.heap)
        self._wake.set()

    def _current(self, entry: tuple[float, int, str, str, int, int]) -> bool:
        _, _, order_id, clock, level, version = entry
        t = self.tracks.get(order_id)
        return t is not None and t.version == version and (clock, level) not in t.fired

    def next_due(self) -> float | None:
        while self.heap and not self._current(self.heap[0]):
            heapq.heappop(self.heap)
        return self.heap[0][0] if self.heap else None

    # -- in: the store at start, then every change ----------------------------------------------------
    async def load(self) -> int:
        """Every open order and the levels already escalated in its round; the last hour's notices handed
        over again (the outbox drops those already planned). Returns the open orders."""
        async with self.store.session() as s:
            running = WorkOrder.state.not_in(sorted(FINISHED))
            orders = (await s.scalars(select(WorkOrder).where(running))).all()
            q = (
                select(WorkOrderEvent.order_id, WorkOrderEvent.action, WorkOrderEvent.data)
                .join(WorkOrder, WorkOrder.id == WorkOrderEvent.order_id)
                .where(
                    WorkOrder.state.not_in(sorted(FINISHED)),
                    WorkOrderEvent.action.in_((ESCALATED, "reopen")),
                )
                .order_by(WorkOrderEvent.id)
            )
            history = (await s.execute(q)).all()
        self.tracks = {o.id: _track(o) for o in orders}
        for order_id, action, data in history:
            t = self.tracks.get(order_id)
            if t is None:
                continue
            if action == "reopen":
                t.fired = set()
            else:
                t.fired.add((str(data.get("clock")), int(data.get("level", 0))))
        self.heap = []
        for order_id, t in self.tracks.items():
            self._arm(order_id, t)
        for n in await self._recent(self.clock() - REPLAY_S):
            self._queue(n)
        return len(self.tracks)

    async def _recent(self, since: float) -> list[Notice]:
        async with self.store.session() as s:
            q = (
                select(WorkOrderEvent, WorkOrder)
                .join(WorkOrder, WorkOrder.id == WorkOrderEvent.order_id)
                .where(WorkOrderEvent.ts >= since, WorkOrderEvent.action.in_((*TOLD, ESCALATED)))
                .order_by(WorkOrderEvent.id)
            )
            rows = (await s.execute(q)).all()
        return [n for e, o in rows if (n := notice(o, e)) is not None]

    def offer(self, order: WorkOrder, event: WorkOrderEvent) -> None:
        """The store's listener, after each commit: never blocks, never touches the store."""
        if order.state in FINISHED:
            self.tracks.pop(order.id, None)
        else:
            old = self.tracks.get(order.id)
            t = _track(order)
            if old is not None and event.action != "reopen":
                t.fired, t.version = old.fired, old.version
            elif old is not None:
                t.version = old.version
            self.tracks[order.id] = t
            self._arm(order.id, t)
        n = notice(order, event)
        if n is not None:
            self._queue(n)

    def _queue(self, n: Notice) -> None:
        try:
            self.notices.put_nowait(n)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("order notices queue full: %s of %s not told", n.kind, n.order_id)

    # -- out: escalations at their time ----------------------------------------------------------------
    async def advance(self) -> list[WorkOrderEvent]:
        """Escalate everything due by the clock's now (at most `BATCH` in one unit of work); returns the
        events written."""
        now = self.clock()
        due: list[tuple[float, str, str, int]] = []
        while len(due) < BATCH and (at := self.next_due()) is not None and at <= now:
            at, _, order_id, clock, level, _ = heapq.heappop(self.heap)
            self.tracks[order_id].fired.add((clock, level))  # claimed now: a stale copy is skipped
            due.append((at, order_id, clock, level))
        if not due:
            return []
        try:
            written = await self._write(due)
        except Exception:
            for _, order_id, clock, level in due:  # not recorded: due again at once
                t = self.tracks.get(order_id)
                if t is not None:
                    t.fired.discard((clock, level))
                    self._arm(order_id, t)
            raise
        return written

    async def _write(self, due: list[tuple[float, str, str, int]]) -> list[WorkOrderEvent]:
        """One unit of work: the orders re-read (columns, not objects: a burst of 1,000 is one select and
        one multi-row insert), the escalations still due appended."""
        ids = sorted({order_id for _, order_id, _, _ in due})
        async with self.store.session() as s, s.begin():
            rows = (await s.execute(select(*ORDER_COLUMNS).where(WorkOrder.id.in_(ids)))).all()
            orders: dict[str, Order] = {r.id: cast(Order, r) for r in rows}
            now = self.clock()
            adding: list[tuple[Order, dict[str, Any]]] = []
            skipped: list[tuple[str, str, int, Order | None]] = []
            for at, order_id, clock, level in due:
                o = orders.get(order_id)
                if o is None or not _runs(o, clock) or threshold(o, clock, level) > now + 1e-6:
                    skipped.append((order_id, clock, level, o))  # changed meanwhile: not this time
                    continue
                adding.append((o, {
                    "order_id": order_id, "ts": now, "actor": ACTOR, "action": ESCALATED,
                    "from_state": o.state, "to_state": o.state, "note": timeline_note(clock, level),
                    "data": {"clock": clock, "level": level, "due": at},
                }))  # fmt: skip
            ids_of: dict[tuple[str, str], int] = {}
            if adding:  # one multi-row insert; (order, note) names a row within one batch
                q = insert(WorkOrderEvent.__table__).returning(  # type: ignore[arg-type]
                    WorkOrderEvent.id, WorkOrderEvent.order_id, WorkOrderEvent.note
                )
                written = (await s.execute(q, [row for _, row in adding])).all()
                ids_of = {(order_id, note): i for i, order_id, note in written}
        done = self.clock()
        if self.measure:  # from the threshold to the escalation committed
            self.lateness.extend(done - row["data"]["due"] for _, row in adding)
        events = [(o, WorkOrderEvent(id=ids_of[(row["order_id"], row["note"])], **row)) for o, row in adding]
        for order_id, clock, level, o in skipped:  # re-armed from the order as stored
            t = self.tracks.get(order_id)
            if t is None:
                continue
            if o is None or o.state in FINISHED:
                del self.tracks[order_id]
                continue
            fresh = _track(o)
            fresh.fired, fresh.version = t.fired - {(clock, level)}, t.version
            self.tracks[order_id] = fresh
            self._arm(order_id, fresh)
        self.escalated += len(events)
        for o, e in events:
            n = notice(o, e)
            if n is not None:
                self._queue(n)
        return [e for _, e in events]

    # -- running ---------------------------------------------------------------------------------------
    async def run(self, sleep: Sleep | None = None) -> None:
        """`sleep`: how the watcher waits (the event loop's by default; the benchmark's event time)."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._timers(sleep), name="order-clock-timers")
            tg.create_task(self._notify(), name="order-clock-notices")

    async def _timers(self, sleep: Sleep | None) -> None:
        failures = 0
        while True:
            at = self.next_due()
            wait = IDLE_S if at is None else min(IDLE_S, at - self.clock())
            if wait > 0:
                self._wake.clear()
                if sleep is not None:
                    await sleep(wait)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
                continue
            try:
                await self.advance()
                failures = 0
            except Exception:  # the store away for a moment: asked again, capped and jittered
                failures += 1
                log.exception("order clock: escalations not written (attempt %d)", failures)
                await asyncio.sleep(random.uniform(0.5, 1.0) * min(30.0, 2.0**failures))

    async def _notify(self) -> None:
        while True:
            batch = [await self.notices.get()]
            while not self.notices.empty() and len(batch) < BATCH:
                batch.append(self.notices.get_nowait())
            if self._tell is None:
                continue
            try:
                await self._tell(batch)
            except Exception:  # the outbox failing: these are lost until the next start's replay
                log.exception("order clock: %d notice(s) not handed to the notifier", len(batch))

    async def drain(self) -> int:
        """Hand every queued notice to the notifier now (tests, and the benchmark's end)."""
        told = 0
        batch: list[Notice] = []
        while not self.notices.empty():
            batch.append(self.notices.get_nowait())
        if batch and self._tell is not None:
            told = await self._tell(batch)
        return told


def _runs(o: Order, clock: str) -> bool:
    """Whether this clock of the order runs now (it is not finished, not on hold, and for the claim clock
    not claimed yet)."""
    if o.state in FINISHED or o.held_since is not None:
        return False
    return clock != "claim" or o.state in UNCLAIMED


def notice(o: Order, e: WorkOrderEvent) -> Notice | None:
    """The notice an order event makes, if any: an escalation, or the requester's claimed or resolved."""
    kind: Kind
    if e.action == ESCALATED:
        kind, data = "escalated", dict(e.data or {})
        clock, level = str(data.get("clock", "")), int(data.get("level", 0))
        if level not in LEVELS:
            return None
    elif e.action in TOLD and o.requester.startswith(f"{o.site}/"):
        kind, clock, level = ("claimed" if e.action == "claim" else "resolved"), "", 0
    else:
        return None
    return Notice(
        order_id=o.id, event_id=e.id, kind=kind, ts=e.ts, site=o.site, building=o.building, unit=o.unit,
        household=o.household, category=o.category, priority=o.priority, requester=o.requester,
        resolution=o.resolution if kind == "resolved" else "", clock=clock, level=level,
    )  # fmt: skip


def threshold(o: Order, clock: str, level: int) -> float:
    """When this level of this clock falls, from the order as stored (the due times include the holds)."""
    claim_s, resolve_s = clocks(o.category, o.priority)
    due, span = (o.claim_due_ts, claim_s) if clock == "claim" else (o.resolve_due_ts, resolve_s)
    return due - (1 - level / 100) * span
