"""Alarms open work orders on both store back ends, in event time: one open order per device and cause
however often the alarm returns (and through a restart's replay), a welfare visit dispatched to the grid,
a P1 leak to the property's duty team at once; clearing the alarm leaves the order open."""

from __future__ import annotations

from sqlalchemy import select

from alerts.rule import Audience, Severity
from alerts.signals import Transition, Where
from gateway.store.db import Store
from gateway.store.order_desk import OrderDesk
from gateway.store.order_flow import DAY, P1_CLOCK
from gateway.store.registry_import import import_registry
from gateway.store.schema import WorkOrder, WorkOrderEvent
from sensors.registry import parse_registry
from simulators import estate


def t(
    rule: str, subject: str, ts: float, kind: str = "raised", severity: Severity = Severity.P4
) -> Transition:
    return Transition(
        ts=ts,
        alarm_id=f"t1:{rule}:{subject}:{int(ts)}",
        rule=rule,
        severity=severity,
        transition=kind,  # type: ignore[arg-type]
        where=Where("t1", "", "", ""),
        subject=subject,
        notify=(Audience.RESIDENTS,),
    )


async def test_alarms_open_one_order_per_device_and_cause(store: Store) -> None:
    reg = estate.small_estate(site="t1", buildings=2, units=1, households_per_unit=2)
    await import_registry(store, parse_registry(estate.dump(reg), "t1.yaml"))
    desk = OrderDesk(store)
    assert await desk.take(t("GAS-1", "s-00003", 900.0, severity=Severity.P2)) is None  # a P2 leak: no job
    first = await desk.take(t("HLT-3", "s-00001", 1000.0))
    assert first is not None
    assert (first.category, first.priority, first.state, first.household, first.building, first.device) == (
        "battery", "P4", "submitted", "b1-u1-101", "b1", "s-00001",
    )  # fmt: skip
    assert first.resolve_due_ts == 1000.0 + 7 * DAY  # the clocks run from the alarm, in event time
    # the battery alarm again tomorrow, and the restart's replay of the first: the same order
    again = await desk.take(t("HLT-3", "s-00001", 1000.0 + DAY))
    replay = await desk.take(t("HLT-3", "s-00001", 1000.0))
    assert again is not None and replay is not None and again.id == replay.id == first.id
    assert await desk.take(t("HLT-3", "s-00001", 1000.0 + DAY, kind="cleared")) is None
    # another cause of the same detector, and the same cause of another: orders of their own
    fault = await desk.take(t("HLT-2", "s-00001", 2000.0))
    other = await desk.take(t("HLT-3", "s-00002", 2000.0))
    assert fault is not None and other is not None and len({first.id, fault.id, other.id}) == 3
    # a welfare visit for the grid's officers; a leak for the property's duty team, both dispatched
    visit = await desk.take(t("WEL-1", "p-00001", 3000.0, severity=Severity.P2))
    leak = await desk.take(t("GAS-2", "s-00003", 3000.0, severity=Severity.P1))
    assert visit is not None and (visit.category, visit.state, visit.assignee) == (
        "welfare_visit",
        "dispatched",
        "grid",
    )
    assert leak is not None and (leak.priority, leak.state, leak.assignee) == ("P1", "dispatched", "property")
    assert leak.claim_due_ts - leak.created_ts == P1_CLOCK[0]
    assert await desk.take(t("DOR-1", "d-b1-u1", 3000.0)) is None  # no order for every alarm
    async with store.session() as s:
        orders = (await s.scalars(select(WorkOrder))).all()
        kept = (await s.scalars(select(WorkOrder).where(WorkOrder.id == first.id))).one()
        opened = (
            await s.scalars(select(WorkOrderEvent.action).where(WorkOrderEvent.order_id == first.id))
        ).all()
    assert len(orders) == 5
    assert kept.alarm_ids == ["t1:HLT-3:s-00001:1000", f"t1:HLT-3:s-00001:{int(1000 + DAY)}"]
    assert list(opened) == ["open"]
    # a finished order does not swallow the next alarm: a new job
    async with store.session() as s, s.begin():
        kept.state = "closed"
        s.add(kept)
    fresh = await desk.take(t("HLT-3", "s-00001", 1000.0 + 30 * DAY))
    assert fresh is not None and fresh.id != first.id


def test_every_rule_that_opens_a_job_names_a_real_category() -> None:
    from alerts.rules import ROWS
    from gateway.store.order_flow import CATEGORIES

    jobs = {r.id: r.job for r in ROWS if r.job is not None}
    assert jobs and set(jobs.values()) <= set(CATEGORIES), jobs


async def test_an_alarm_storm_opens_one_order_per_device_and_cause(store: Store) -> None:
    """A building's power cut: 200 detectors go silent at once, come back and go silent again, and a
    restart replays the first wave; half of them also report a low battery. Through the desk's own queue,
    as the engine hands them over: 200 silent-detector orders and 100 battery orders, no more."""
    import asyncio
    import random

    reg = estate.small_estate(site="t1", buildings=2, units=10, households_per_unit=10)
    await import_registry(store, parse_registry(estate.dump(reg), "t1.yaml"))
    devices = estate.sensor_ids(reg)[:200]
    storm = [t("HLT-1", d, 1000.0) for d in devices]
    storm += [t("HLT-1", d, 1000.0 + 600, kind="cleared") for d in devices]
    storm += [t("HLT-1", d, 1000.0 + 900) for d in devices]
    storm += [t("HLT-1", d, 1000.0) for d in devices]  # the replay after a restart
    storm += [t("HLT-3", d, 1200.0) for d in devices[::2]]
    random.Random(3).shuffle(storm)
    desk = OrderDesk(store)
    running = asyncio.create_task(desk.run())
    for transition in storm:
        desk.offer(transition)
    async with asyncio.timeout(60):
        while not desk.queue.empty() or desk.opened + desk.joined < 200 * 3 + 100:  # noqa: ASYNC110 - counters, no event
            await asyncio.sleep(0.05)
    running.cancel()
    async with store.session() as s:
        orders = (await s.scalars(select(WorkOrder))).all()
    by_cause: dict[str, int] = {}
    for o in orders:
        by_cause[o.cause] = by_cause.get(o.cause, 0) + 1
    assert len(orders) == 300 and set(by_cause.values()) == {1}
    assert sum(1 for o in orders if o.cause.startswith("HLT-1:")) == 200
    assert desk.dropped == 0
