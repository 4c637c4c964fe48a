"""Escalation goes to whoever is on duty at the alarm's own time: a CO alarm left unacknowledged at 02:55 in
Changsha escalates to grid officers at 03:00, and the duty roster (in a real SQLite store, read into the
gateway's memory) decides which of them hear it. The transition comes from the replay path, so the time is
event time, not the wall clock."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import select

from alerts.rule import Audience
from alerts.signals import Transition
from gateway.notify.directory import Directory
from gateway.notify.oncall import OnCall, Shift
from gateway.pipeline.replay import build_engine, replay
from gateway.store.db import Store, open_store, sqlite_url
from gateway.store.duty import NewShift, add_shift, delete_shift, hand_over, load_shifts
from gateway.store.registry_import import import_registry
from gateway.store.schema import DutyShift
from sensors.registry import SiteRegistry, parse_registry
from simulators import scenarios as sc

H = 3600.0
MIDNIGHT = sc.T0 + 8 * H  # T0 is 16:00 in Changsha; this is 00:00 of the next day there
AT_3 = MIDNIGHT + 3 * H
GO = Audience.GRID


def _registry() -> dict[str, object]:
    reg = sc.registry()
    reg["grids"] = [{"id": "g1", "buildings": ["b1"], "officers": [{"id": f"o-{i}"} for i in (1, 2, 3)]}]
    return reg


def _escalation(tmp_path: Path) -> Transition:
    """The real engine's escalation of a CO-1 raised at 02:55 local and never acknowledged."""
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(_registry()))
    engine, decoder = build_engine(path)
    start = AT_3 - 600
    calm = sc.readings(
        site="t1", device="s-1", start=start, end=AT_3 + 600, co=lambda t: 0.0, gas=lambda t: 0.0
    )
    alarm = [sc.event("t1", "s-1", AT_3 - 300, "alarm_co")]
    out: list[Transition] = []
    replay(engine, decoder, io.BytesIO(sc.jsonl(sc.merge(calm, alarm))), emit=out.append)
    escalated = [t for t in out if t.rule == "CO-1" and t.transition == "escalated"]
    assert len(escalated) == 1 and escalated[0].notify == (GO,)
    assert escalated[0].ts == AT_3
    return escalated[0]


@pytest.fixture
async def store(tmp_path: Path) -> Store:  # type: ignore[misc]
    async with open_store(sqlite_url(tmp_path / "guardian.sqlite3")) as s:
        await import_registry(s, parse_registry(yaml.safe_dump(_registry()), "t1.yaml"))
        yield s


def officer(person: str, start: float, end: float) -> NewShift:
    return NewShift("t1", "officer", "g1", person, start, end)


async def test_an_unacknowledged_p1_at_three_reaches_whoever_is_on_duty(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    t = _escalation(tmp_path)
    fallbacks = Counter("fallbacks", "", ["site", "role"], registry=CollectorRegistry())
    wall = [sc.T0 + 30 * 86400.0]  # the wall clock a month on: the roster is asked at event time anyway
    on_call = OnCall(lambda now: load_shifts(store, now), clock=lambda: wall[0], fallbacks=fallbacks)
    directory = Directory([SiteRegistry.model_validate(_registry())]).with_on_call(on_call)

    def told() -> list[str]:
        return [r.id for r in directory.resolve(t.where, t.notify, t.ts) if r.audience is GO]

    # the night shift across midnight, and the morning's
    night = await add_shift(store, officer("o-1", MIDNIGHT - 2 * H, MIDNIGHT + 6 * H), "pm1", sc.T0)
    await add_shift(store, officer("o-2", MIDNIGHT + 6 * H, MIDNIGHT + 14 * H), "pm1", sc.T0)
    wall[0] = AT_3 - H
    await on_call.reload()
    wall[0] = sc.T0 + 30 * 86400.0
    assert told() == ["o-1"]
    assert fallbacks.labels(site="t1", role="officer")._value.get() == 0

    # at 02:00 o-1 hands the rest of the night to o-3
    _, rest = await hand_over(store, "t1", night.id, "o-3", "sick", "o-1", MIDNIGHT + 2 * H)
    wall[0] = AT_3
    await on_call.reload()
    assert told() == ["o-3"]
    assert rest.handed_from == night.id

    # nobody on the roster at all: every officer of the grid, counted, logged once for the hole
    async with store.session() as session:
        ids = (await session.scalars(select(DutyShift.id))).all()
    for i in ids:
        assert await delete_shift(store, "t1", i)
    await on_call.reload()
    with caplog.at_level(logging.INFO, logger="gateway.notify.oncall"):
        assert told() == ["o-1", "o-2", "o-3"]
        assert told() == ["o-1", "o-2", "o-3"]
    assert fallbacks.labels(site="t1", role="officer")._value.get() == 2
    assert len([r for r in caplog.records if "nobody is rostered" in r.message]) == 1
    # without a roster's say in it the directory is what it was: everyone, no count
    plain = Directory([SiteRegistry.model_validate(_registry())])
    assert [r.id for r in plain.resolve(t.where, t.notify, t.ts)] == ["o-1", "o-2", "o-3"]


async def test_a_hole_between_shifts_is_everyone_and_logged_once_per_hole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fallbacks = Counter("fallbacks", "", ["site", "role"], registry=CollectorRegistry())
    duty = ("t1", "officer", "g1")
    shifts = [Shift("t1", "officer", "g1", "o-1", 0, 100), Shift("t1", "officer", "g1", "o-2", 200, 300)]

    async def load(now: float) -> list[Shift]:
        return shifts

    on_call = OnCall(load, clock=lambda: 0.0, fallbacks=fallbacks)
    await on_call.reload()
    everyone = ("o-1", "o-2", "o-3")
    with caplog.at_level(logging.WARNING, logger="gateway.notify.oncall"):
        assert on_call.pick(duty, 50, everyone) == ("o-1",)
        assert on_call.pick(duty, 100, everyone) == everyone  # the end is not part of the shift
        assert on_call.pick(duty, 150, everyone) == everyone
        assert on_call.pick(duty, 200, everyone) == ("o-2",)
        assert on_call.pick(duty, 350, everyone) == everyone
        assert on_call.pick(duty, 400, everyone) == everyone
    holes = [r for r in caplog.records if "no shift" in r.message]
    assert len(holes) == 2 and fallbacks.labels(site="t1", role="officer")._value.get() == 4
    # someone rostered who has left the grid is not told, and the grid is
    assert on_call.pick(duty, 50, ("o-2", "o-3")) == ("o-2", "o-3")
    # two on duty at once, told in the order their shifts began
    shifts.append(Shift("t1", "officer", "g1", "o-3", 20, 60))
    await on_call.reload()
    assert on_call.pick(duty, 30, everyone) == ("o-1", "o-3")
