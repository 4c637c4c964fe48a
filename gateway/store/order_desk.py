"""Work orders opened by alarms: a dead detector gets a job, an elder's silent flat a visit, a leak the
property's duty team, without anyone having to file them.

One open order per device (or person) and cause, however often the alarm comes back: a detector whose
battery alarm is raised again tomorrow adds that alarm to the open order instead of a second one, and a
replay after a restart (the engine re-emits what it raised past its snapshot) finds the order it opened.
Clearing the alarm does not close the order: the visit does.

The engine's listener never blocks (a bounded queue, as the alarm book's); should it fill, the raise is
counted and logged, and the next raise of that alarm opens the order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from alerts.rule import Hazard, Severity
from alerts.rules import RULES
from alerts.signals import Transition
from gateway.influx.linequeue import LineQueue
from gateway.store import dispatch, order_points
from gateway.store.db import Store
from gateway.store.order_flow import FINISHED
from gateway.store.schema import Device, Household, WorkOrder, WorkOrderEvent
from gateway.store.work_orders import OrderListener, fresh_order

log = logging.getLogger(__name__)

SYSTEM = "guardian"
"""The actor and requester of an order an alarm opened."""


@dataclass(frozen=True, slots=True)
class Opens:
    category: str
    priority: str
    assignee: str
    """Where it goes when none of the site's dispatch rules matches: "" the community accepts and
    dispatches it; a team: dispatched to it at once (a P1 never waits for a dispatcher)."""


DIRECT = {"welfare_visit": "grid"}
"""Categories an alarm's order skips the community for: a welfare visit goes to the grid's officers at once
(敲门行动); the rest is accepted and dispatched by the community."""


def opens(t: Transition) -> Opens | None:
    """What the rule's row says its raise opens (`Rule.job`), or a P1 home hazard's order, or None."""
    if t.transition != "raised":
        return None
    rule = RULES.get(t.rule)
    if rule is None:
        return None
    if rule.job is not None:  # at the alarm's severity, as raised
        return Opens(rule.job, str(t.severity), DIRECT.get(rule.job, ""))
    if t.severity == Severity.P1 and rule.hazard is not None:
        return Opens("gas_smell" if rule.hazard is Hazard.GAS else "other", "P1", "property")
    return None


def _described(t: Transition) -> str:
    """What the alarm was, as its row names it for people (the board and the city platform show this), with
    the rule and the device for whoever traces it."""
    rule = RULES.get(t.rule)
    said = f"{rule.title_zh} / {rule.title}" if rule is not None else ""
    return f"{said} ({t.rule} {t.subject})" if said else f"{t.rule} {t.subject}"


class OrderDesk:
    def __init__(
        self,
        store: Store,
        *,
        queue: int = 10_000,
        listeners: Iterable[OrderListener] = (),
        lines: LineQueue | None = None,
    ) -> None:
        self.store = store
        self.listeners = tuple(listeners)
        """Told of every order it opens (the order-clock watcher), as `work_orders.act`'s listeners."""
        self.lines = lines
        """Where each order opened goes as a `work_order` point (the board, the daily report)."""
        self.queue: asyncio.Queue[Transition] = asyncio.Queue(queue)
        self.opened = 0
        self.joined = 0
        self.dropped = 0

    def offer(self, t: Transition) -> None:
        """The engine's listener: never blocks the engine."""
        if opens(t) is None:
            return
        try:
            self.queue.put_nowait(t)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("order desk queue full: no work order for %s (%s)", t.alarm_id, t.rule)

    async def run(self) -> None:
        while True:
            t = await self.queue.get()
            try:
                await self.take(t)
            except Exception:  # the store away for a moment: this raise is lost, the next one opens it
                log.exception("order desk: no work order for %s", t.alarm_id)

    async def take(self, t: Transition) -> WorkOrder | None:
        what = opens(t)
        if what is None:
            return None
        site, cause = t.where.site, f"{t.rule}:{t.subject}"
        async with self.store.session() as s, s.begin():
            open_one = await s.scalar(
                select(WorkOrder).where(
                    WorkOrder.site == site, WorkOrder.cause == cause, WorkOrder.state.not_in(sorted(FINISHED))
                )
            )
            if open_one is not None:
                if t.alarm_id not in (open_one.alarm_ids or []):
                    open_one.alarm_ids = [*(open_one.alarm_ids or []), t.alarm_id][-20:]
                    s.add(open_one)
                self.joined += 1
                return open_one
            device = await s.get(Device, (site, t.subject))
            building, unit, household = t.where.building, t.where.unit, t.where.household
            if device is not None:
                building, unit, household = device.building, device.unit, device.household or household
            elif household and not building:
                h = await s.get(Household, (site, household))
                building, unit = (h.building, h.unit) if h is not None else ("", "")
            now = t.ts
            rule = await dispatch.route(s, site, what.category, building)
            assignee = rule.team if rule is not None else what.assignee
            state = "dispatched" if assignee else "submitted"
            order = fresh_order(
                site=site, building=building, unit=unit, household=household,
                device=t.subject if device is not None else "",
                category=what.category, priority=what.priority,
                description=_described(t), state=state, requester=f"account:{SYSTEM}",
                requester_account="", assignee=assignee, alarm_ids=[t.alarm_id], cause=cause, now=now,
            )  # fmt: skip
            s.add(order)
            event = WorkOrderEvent(
                order_id=order.id,
                ts=now,
                actor=SYSTEM,
                action="open",
                from_state="",
                to_state=state,
                note=f"opened by alarm {t.alarm_id}",
                data={"rule": t.rule, "assignee": assignee}
                | ({"dispatch_rule": rule.position, "by": rule.kind} if rule is not None else {}),
            )
            s.add(event)
        self.opened += 1
        order_points.record(self.lines, order, "open")
        for listen in self.listeners:
            listen(order, event)
        return order
