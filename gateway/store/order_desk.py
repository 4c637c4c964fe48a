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
from dataclasses import dataclass

from sqlalchemy import select

from alerts.signals import Transition
from gateway.store.db import Store
from gateway.store.order_flow import FINISHED, clocks
from gateway.store.schema import Device, Household, WorkOrder, WorkOrderEvent
from gateway.store.work_orders import new_id

log = logging.getLogger(__name__)

SYSTEM = "guardian"
"""The actor and requester of an order an alarm opened."""


@dataclass(frozen=True, slots=True)
class Opens:
    category: str
    priority: str
    assignee: str
    """"": the community accepts and dispatches it; a team: dispatched to it at once."""


AUTO: dict[str, Opens] = {
    # rule: the order it opens (docs/work-orders.md)
    "HLT-1": Opens("detector_fault", "P3", ""),  # silent detector
    "HLT-2": Opens("detector_fault", "P3", ""),  # fault or tamper
    "HLT-3": Opens("battery", "P4", ""),
    "HLT-4": Opens("end_of_life", "P3", ""),
    "WEL-1": Opens("welfare_visit", "P2", "grid"),  # knock on the door: the grid's officers
}
HAZARD_P1 = Opens("gas_smell", "P1", "property")
"""A P1 gas or CO alarm: a job for the property's duty team, dispatched at once."""


def opens(t: Transition) -> Opens | None:
    if t.transition != "raised":
        return None
    if t.rule in AUTO:
        return AUTO[t.rule]
    if str(t.severity) == "P1" and t.rule.startswith(("GAS-", "CO-")):
        return HAZARD_P1 if t.rule.startswith("GAS-") else Opens("other", "P1", "property")
    return None


class OrderDesk:
    def __init__(self, store: Store, *, queue: int = 10_000) -> None:
        self.store = store
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
            claim_s, resolve_s = clocks(what.category, what.priority)
            now = t.ts
            state = "dispatched" if what.assignee else "submitted"
            order = WorkOrder(
                id=new_id(now), site=site, building=building, unit=unit, household=household,
                device=t.subject if device is not None else "",
                category=what.category, priority=what.priority,
                description=f"{t.rule} {t.subject}", state=state, requester=f"account:{SYSTEM}",
                requester_account="", assignee=what.assignee, alarm_ids=[t.alarm_id], cause=cause,
                created_ts=now, updated_ts=now, claim_due_ts=now + claim_s, resolve_due_ts=now + resolve_s,
                claimed_ts=None, resolved_ts=None, held_since=None, held_s=0.0, resolution="", rating=None,
            )  # fmt: skip
            s.add(order)
            s.add(
                WorkOrderEvent(
                    order_id=order.id,
                    ts=now,
                    actor=SYSTEM,
                    action="open",
                    from_state="",
                    to_state=state,
                    note=f"opened by alarm {t.alarm_id}",
                    data={"rule": t.rule, "assignee": what.assignee},
                )
            )
        self.opened += 1
        return order
