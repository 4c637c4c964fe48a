"""The duty roster in the store, on SQLite and PostgreSQL: shifts are checked where they are written (ends
after it starts, one person one shift at a time, only that grid's officers or that site's staff), a
hand-over ends one shift now and starts its rest for someone else, and the gateway's memory reads it."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ShiftError
from gateway.notify.oncall import OnCall, Shift
from gateway.store import queries
from gateway.store.db import Store
from gateway.store.duty import NewShift, add_shift, delete_shift, hand_over, load_shifts
from gateway.store.registry_import import import_registry
from gateway.store.schema import DutyShift
from sensors.registry import parse_registry
from simulators import estate

H = 3600.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC, 08:00 in Changsha


def _estate() -> dict[str, Any]:
    data = estate.small_estate(site="t1", buildings=2, units=1, households_per_unit=1)
    data["grids"] = [
        {"id": "g1", "buildings": ["b1"], "officers": [{"id": "o-1"}, {"id": "o-2"}]},
        {"id": "g2", "buildings": ["b2"], "officers": [{"id": "o-3"}]},
    ]
    data["maintenance"] = [{"id": "m-1"}]
    return data


@pytest.fixture
async def site(store: Store) -> Store:
    await import_registry(store, parse_registry(estate.dump(_estate()), "t1.yaml"))
    return store


def officer(person: str, start: float, end: float, grid: str = "g1", note: str = "") -> NewShift:
    return NewShift("t1", "officer", grid, person, start, end, note)


async def test_a_shift_across_midnight_is_stored_and_read_back(site: Store) -> None:
    night = await add_shift(site, officer("o-1", T0 + 14 * H, T0 + 22 * H, note="night"), "pm1", T0)
    assert night.id and night.created_by == "pm1" and night.handed_from is None
    async with site.session() as session:
        rows = await queries.shifts_between(session, "t1", T0 + 20 * H, T0 + 21 * H)
        assert [(r.person, r.start_ts, r.end_ts, r.note) for r in rows] == [
            ("o-1", T0 + 14 * H, T0 + 22 * H, "night")
        ]
        assert await queries.shifts_between(session, "t1", T0 + 22 * H, T0 + 30 * H) == []


@pytest.mark.parametrize(
    ("shift", "why"),
    [
        (officer("o-1", T0 + H, T0 + H), "must end after it starts"),
        (officer("o-1", T0 + 2 * H, T0 + H), "must end after it starts"),
        (officer("o-3", T0, T0 + H), "'o-3' is not an officer of grid 'g1'"),
        (officer("p-00001", T0, T0 + H), "is not an officer"),
        (officer("o-1", T0, T0 + H, grid="g9"), "no grid 'g9'"),
        (NewShift("t1", "property", "", "o-1", T0, T0 + H), "not property staff"),
        (NewShift("t1", "property", "g1", "pm-1", T0, T0 + H), "the site's desk"),
        (NewShift("t1", "resident", "", "p-00001", T0, T0 + H), "a shift covers one of"),
        (officer("o-1", T0, T0 + 8 * 24 * H), "at most 168 h"),
    ],
)
async def test_a_shift_that_cannot_be_is_refused_saying_why(site: Store, shift: NewShift, why: str) -> None:
    with pytest.raises(ShiftError, match=why):
        await add_shift(site, shift, "pm1", T0)
    async with site.session() as session:
        assert await queries.shifts_between(session, "t1", 0, 4e9) == []


async def test_one_person_is_on_one_shift_at_a_time_but_two_people_may_share_one(site: Store) -> None:
    first = await add_shift(site, officer("o-1", T0, T0 + 8 * H), "pm1", T0)
    with pytest.raises(ShiftError, match=f"already on shift {first.id}"):
        await add_shift(site, officer("o-1", T0 + 7 * H, T0 + 9 * H), "pm1", T0)
    with pytest.raises(ShiftError, match="already on shift"):  # the maintenance desk is still o-1's time
        await add_shift(site, officer("o-1", T0 + H, T0 + 2 * H), "pm1", T0)
    await add_shift(site, officer("o-1", T0 + 8 * H, T0 + 16 * H), "pm1", T0)  # back to back is fine
    await add_shift(site, officer("o-2", T0 + 4 * H, T0 + 12 * H), "pm1", T0)  # a colleague alongside
    assert await delete_shift(site, "t1", first.id)
    assert not await delete_shift(site, "t1", first.id)
    assert not await delete_shift(site, "t2", first.id + 1)  # another site's id answers nothing
    await add_shift(site, officer("o-1", T0, T0 + 8 * H), "pm1", T0)  # the hole it left is free again


async def test_hand_over_ends_the_shift_now_and_gives_its_rest_to_a_colleague(site: Store) -> None:
    night = await add_shift(site, officer("o-1", T0 + 14 * H, T0 + 22 * H), "pm1", T0)
    now = T0 + 18 * H + 0.7
    with pytest.raises(ShiftError, match="not running now"):
        await hand_over(site, "t1", night.id, "o-2", "", "o-1", T0 + 23 * H)
    with pytest.raises(ShiftError, match="'o-3' is not an officer of grid 'g1'"):
        await hand_over(site, "t1", night.id, "o-3", "", "o-1", now)
    old, new = await hand_over(site, "t1", night.id, "o-2", "fever, going home", "o-1", now)
    assert (old.end_ts, new.start_ts, new.end_ts) == (T0 + 18 * H, T0 + 18 * H, T0 + 22 * H)
    assert (new.person, new.note, new.handed_from) == ("o-2", "fever, going home", night.id)
    assert new.created_by == "o-1"
    async with site.session() as session:
        stored = await session.get(DutyShift, night.id)
        assert stored is not None and stored.end_ts == T0 + 18 * H
    with pytest.raises(ShiftError, match="already on this shift"):
        await hand_over(site, "t1", new.id, "o-2", "", "pm1", now + H)
    await add_shift(site, officer("o-1", T0 + 20 * H, T0 + 24 * H), "pm1", T0)
    with pytest.raises(ShiftError, match="already on shift"):  # the rest would overlap o-1's next shift
        await hand_over(site, "t1", new.id, "o-1", "", "pm1", now + H)


async def test_the_gateway_memory_reads_the_roster_around_now(site: Store) -> None:
    await add_shift(site, officer("o-1", T0, T0 + 8 * H), "pm1", T0)
    await add_shift(site, officer("o-3", T0, T0 + 8 * H, grid="g2"), "pm1", T0)
    await add_shift(site, NewShift("t1", "property", "", "pm-1", T0 - 4 * H, T0 + 4 * H), "pm1", T0)
    await add_shift(
        site, officer("o-2", T0 + 100 * 24 * H, T0 + 100 * 24 * H + H), "pm1", T0
    )  # too far ahead
    shifts = await load_shifts(site, T0)
    assert sorted(shifts, key=lambda s: s.person) == [
        Shift("t1", "officer", "g1", "o-1", T0, T0 + 8 * H),
        Shift("t1", "officer", "g2", "o-3", T0, T0 + 8 * H),
        Shift("t1", "property", "", "pm-1", T0 - 4 * H, T0 + 4 * H),
    ]
    on_call = OnCall(lambda now: load_shifts(site, now), clock=lambda: T0)
    assert await on_call.reload() == 3
    assert on_call.rostered(("t1", "officer", "g1"), T0 + H) == ("o-1",)
    assert on_call.rostered(("t1", "officer", "g1"), T0 + 8 * H) == ()
