"""The scenario library: every hazard, device fault and door incident the rules must catch, with ground truth.

Each scenario is a small building (four households of different kinds, all living their normal lives) into
which one thing goes wrong at a known time. Its `truth` says which rule must fire on whom and by when, from
the standards' windows (`simulators.truth`), and the near misses say what must *not* fire: the standards'
"no alarm before" limits, a detector pre-heating, a brief burst of gas. `guardian evaluate` replays them all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from simulators.air import Pulse, ramp
from simulators.truth import (
    ACCURACY,
    ALARM_S,
    DAILY_S,
    EN50291,
    FAULT_S,
    GAS_WINDOW,
    LOST_S,
    UL2034,
    Expect,
    co_window,
    cohb_window,
    severity_of,
)
from simulators.world import World

ZONE = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2027, 1, 12, 17, 0, tzinfo=ZONE).timestamp()
"""A Tuesday evening in January: windows shut, heaters on, everyone coming home."""
MIN = 60.0
HOUR = 3600.0

FAMILY, ELDER, COUPLE, FLAT = "b1-u1-101", "b1-u1-102", "b1-u1-201", "b1-u1-202"
KITCHEN = {FAMILY: "s-101", ELDER: "s-102", COUPLE: "s-201", FLAT: "s-202"}
HEATER = "s-101w"
DOOR = "d-b1-u1"
ELDER_ID = "p-102a"


def building(site: str = "lib", co_profile: str = "EN50291") -> dict[str, Any]:
    """A walk-up unit of four flats: a family with a gas water heater, an elderly woman living alone (one
    battery detector), a working couple, and a family of three with a grandparent at home."""

    def flat(hid: str, sensors: list[dict[str, Any]], residents: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": hid, "sensors": sensors, "residents": residents, "contacts": [{"id": f"c-{hid}"}]}

    mains = {"kind": "co_gas", "power": "mains"}
    return {
        "site": site,
        "timezone": "Asia/Shanghai",
        "co_profile": co_profile,
        "grids": [{"id": "g1", "buildings": ["b1"], "officers": [{"id": "o-1"}]}],
        "property": [{"id": "pm-1"}],
        "maintenance": [{"id": "mt-1"}],
        "buildings": [
            {
                "id": "b1",
                "units": [
                    {
                        "id": "b1-u1",
                        "doors": [DOOR],
                        "households": [
                            flat(
                                FAMILY,
                                [
                                    {"id": KITCHEN[FAMILY], **mains},
                                    {"id": HEATER, "kind": "co", "power": "battery"},
                                ],
                                [{"id": "p-101a"}, {"id": "p-101b"}, {"id": "p-101c"}],
                            ),
                            flat(
                                ELDER,
                                [{"id": KITCHEN[ELDER], "kind": "co_gas", "power": "battery"}],
                                [{"id": ELDER_ID, "lives_alone": True, "vulnerable": True}],
                            ),
                            flat(
                                COUPLE,
                                [{"id": KITCHEN[COUPLE], **mains}],
                                [{"id": "p-201a"}, {"id": "p-201b"}],
                            ),
                            flat(
                                FLAT,
                                [{"id": KITCHEN[FLAT], **mains}],
                                [{"id": "p-202a"}, {"id": "p-202b"}, {"id": "p-202c"}],
                            ),
                        ],
                    }
                ],
            }
        ],
    }


@dataclass(slots=True)
class Scenario:
    name: str
    title: str
    hours: float
    inject: Callable[[World, str], list[Expect]]
    """Puts the hazard on the world and returns the ground truth."""
    co_profile: str = "EN50291"
    seed: int = 1
    start: float = START
    truth: list[Expect] = field(default_factory=list)

    def build(self) -> tuple[dict[str, Any], World]:
        registry = building(co_profile=self.co_profile)
        world = World(registry, self.start - 2 * HOUR, seed=self.seed)  # two hours of history first
        self.truth = self.inject(world, self.name)
        return registry, world

    @property
    def end(self) -> float:
        return self.start + self.hours * HOUR


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str, title: str, hours: float, **kw: Any
) -> Callable[[Callable[[World, str], list[Expect]]], None]:
    def add(inject: Callable[[World, str], list[Expect]]) -> None:
        SCENARIOS[name] = Scenario(name, title, hours, inject, **kw)

    return add


def quiet(name: str, subject: str, rules: tuple[str, ...], why: str, start: float = START) -> list[Expect]:
    """Near misses: none of `rules` may be raised on `subject` from `start` to the end of the run."""
    return [
        Expect(scenario=name, rule=r, subject=subject, start=start, deadline=None, standard=why)
        for r in rules
    ]


# -- carbon monoxide ---------------------------------------------------------------------------------


def _constant(
    ppm: float, table: tuple[tuple[float, float, float], ...], standard: str
) -> Callable[[World, str], list[Expect]]:
    """The standard's own test: CO steps to `ppm` and stays (a calibrated detector: gain 1)."""

    def inject(world: World, name: str) -> list[Expect]:
        d = world.households[COUPLE].kitchen
        d.gain = 1.0
        d.co.append(Pulse(START, float("inf"), ppm, 30.0, 600.0))
        window = next((w for w in table if w[0] == ppm), None)
        if window is None:  # below the alarm levels: must stay quiet for the whole run
            return quiet(name, d.id, ("CO-1",), standard)
        _, nb, by = window
        return [
            Expect(
                scenario=name,
                rule="CO-1",
                subject=d.id,
                start=START,
                deadline=START + by,
                not_before=START + nb,
                standard=standard,
                life_safety=True,
            )
        ]

    return inject


for _ppm, _nb, _by in EN50291:
    scenario(f"co-en-{_ppm:g}ppm", f"EN 50291-1 test: {_ppm:g} ppm held", (_by + 1800) / HOUR)(
        _constant(_ppm, EN50291, f"EN 50291-1: {_ppm:g} ppm alarm in {_nb / 60:g}-{_by / 60:g} min")
    )
for _ppm, _nb, _by in UL2034:
    scenario(
        f"co-ul-{_ppm:g}ppm", f"UL 2034 test: {_ppm:g} ppm held", (_by + 1800) / HOUR, co_profile="UL2034"
    )(_constant(_ppm, UL2034, f"UL 2034: {_ppm:g} ppm alarm in {_nb / 60:g}-{_by / 60:g} min"))
scenario("co-en-30ppm", "EN 50291-1: 30 ppm for 3 h must not alarm", 3.0)(
    _constant(30.0, EN50291, "EN 50291-1: 30 ppm no alarm before 120 min")
)


def reached(p: Pulse, table: tuple[tuple[float, float, float], ...]) -> dict[float, float]:
    """When the true CO reached each test level as read by a detector reading low (`ACCURACY`)."""
    return {ppm: at for ppm, _, _ in table if (at := p.first_reaching(ppm / (1 - ACCURACY))) is not None}


@scenario("charcoal-brazier", "Charcoal brazier in a closed room, elderly woman living alone, at night", 8.0)
def _brazier(world: World, name: str) -> list[Expect]:
    d = world.households[ELDER].kitchen
    lit = START + 4 * HOUR  # 21:00
    p = Pulse(lit, lit + 6 * HOUR, 450.0, 90 * MIN, 60 * MIN)
    d.co.append(p)
    co1 = co_window(name, d.id, reached(p, EN50291), onset=lit)
    assert co1 is not None
    # CO-4 comes *after* CO-1 here, and that is the physics, not a slow rule. The dose filter (CO-1, tau
    # 60 min, alarm at D = c/c0 = 1 with c0 = 35 ppm) alarms once roughly c0 * tau = 2,100 ppm·min have
    # been breathed, and forgets over an hour; blood COHb (Coburn-Forster-Kane, docs/standards.md §1, a
    # lightly active adult: tau ≈ 4.6 h) needs about 3,600 ppm·min to climb from 0.5 % to 2.5 % and forgets
    # over hours. So an exposure that rises past ~45 ppm trips CO-1 first (this brazier: CO-1 at ~33 min,
    # ~140 ppm; COHb 2.5 % at ~42 min), and CO-4 comes first only in a long, low exposure (30-45 ppm for
    # hours) that the dose filter never alarms on: the case CO-4 exists for. Its window is the CFK model's
    # own on the true air, read 15 % high or low (docs/simulators.md, "CO-4 and CO-1").
    cohb = cohb_window(name, ELDER, p)
    assert cohb is not None
    return [co1, cohb]


@scenario("faulty-water-heater", "Gas water heater with a blocked flue, during an evening shower", 4.5)
def _heater(world: World, name: str) -> list[Expect]:
    d = world.households[FAMILY].heater
    assert d is not None
    on = START + 3 * HOUR
    p = Pulse(on, on + 40 * MIN, 420.0, 8 * MIN, 20 * MIN)
    d.co.append(p)
    co1 = co_window(name, d.id, reached(p, EN50291), onset=on)
    assert co1 is not None
    return [co1]


# -- gas ------------------------------------------------------------------------------------------


def _reach(p: Pulse, value: float) -> tuple[float, float, float]:
    """When the true value reaches `value`, and when a detector reading high or low (`ACCURACY`) sees it."""
    times = [p.first_reaching(value * f) for f in (1.0, 1 / (1 + ACCURACY), 1 / (1 - ACCURACY))]
    assert all(t is not None for t in times), (p, value)
    return times[0], times[1], times[2]  # type: ignore[return-value]


def gas_truth(name: str, device: str, p: Pulse, stages: tuple[tuple[str, float], ...]) -> list[Expect]:
    out: list[Expect] = []
    for rule, lel in stages:
        at, high, low = _reach(p, lel)
        out.append(
            Expect(
                scenario=name,
                rule=rule,
                subject=device,
                start=at,
                deadline=low + GAS_WINDOW[1],
                not_before=high + GAS_WINDOW[0],
                onset=p.start,
                life_safety=True,
                standard=f"GB 15322.2: {lel:g} % LEL, alarm 15-60 s after the set-point (±15 % detector)",
                severity=str(severity_of(rule)),
            )
        )
    return out


STAGES = (("GAS-1", 10.0), ("GAS-2", 20.0))


@scenario("slow-gas-leak", "A loose hose: gas creeping up at 1 % LEL a minute", 1.5)
def _slow_leak(world: World, name: str) -> list[Expect]:
    d = world.households[COUPLE].kitchen
    p = ramp(START + 20 * MIN, 1.0, 40.0)
    d.lel.append(p)
    return gas_truth(name, d.id, p, STAGES)


@scenario("sudden-gas-leak", "A burst pipe: gas rising at 20 % LEL a minute", 1.0)
def _sudden_leak(world: World, name: str) -> list[Expect]:
    d = world.households[FLAT].kitchen
    p = ramp(START + 20 * MIN, 20.0, 60.0)
    d.lel.append(p)
    at, _, low = _reach(p, 3.0)
    rising = Expect(
        scenario=name,
        rule="GAS-3",
        subject=d.id,
        start=at,
        deadline=low + 2 * MIN,
        onset=p.start,
        standard="gas rising ≥ 2 % LEL/min from 3 % LEL: early warning",
    )
    return [*gas_truth(name, d.id, p, STAGES), rising]


@scenario("stove-left-on", "Everyone goes out with a pot on the stove; it boils over and the flame dies", 2.0)
def _stove(world: World, name: str) -> list[Expect]:
    hh = world.households[FLAT]
    hh.skip_days.add(world.local_date(START).toordinal())
    gone = START + 30 * MIN
    for i, (person, _) in enumerate(hh.people):
        world.doors[DOOR].passage(gone + i * 20.0, person, "out", world.rng)
    hh.kitchen.co.append(Pulse(gone - 10 * MIN, gone + 25 * MIN, 25.0, 10 * MIN, 30 * MIN))
    p = ramp(gone + 25 * MIN, 2.0, 30.0)
    hh.kitchen.lel.append(p)
    at, _, low = _reach(p, 5.0)
    away = Expect(
        scenario=name,
        rule="WEL-3",
        subject=FLAT,
        start=at,
        deadline=low + ALARM_S + 30.0,
        onset=p.start,
        life_safety=True,
        standard="gas ≥ 5 % LEL with everyone out: alarm reaches the platform within 30 s (GB/T 45839)",
    )
    return [away, *gas_truth(name, hh.kitchen.id, p, STAGES)]


@scenario("cooking-burst", "A burner slow to light: 6 % LEL for half a minute must not raise a leak", 1.0)
def _burst(world: World, name: str) -> list[Expect]:
    d = world.households[COUPLE].kitchen
    d.lel.append(Pulse(START + 20 * MIN, START + 20 * MIN + 25, 6.0, 5.0, 40.0))
    return quiet(name, d.id, ("GAS-1", "GAS-2"), "a brief burst is no leak")


# -- detector faults ------------------------------------------------------------------------------


def _event(
    rule: str, event: str, title: str, household: str = COUPLE, restore: str | None = "restored"
) -> None:
    @scenario(f"detector-{event.replace('_', '-')}", title, 1.0)
    def inject(world: World, name: str) -> list[Expect]:
        d = world.households[household].kitchen
        at = START + 15 * MIN
        d.events.append((at, event))
        if restore:
            d.events.append((at + 30 * MIN, restore))
        std = f"GB/T 45839: fault or removal reported within {FAULT_S:g} s"
        return [Expect(scenario=name, rule=rule, subject=d.id, start=at, deadline=at + FAULT_S, standard=std)]


_event("HLT-2", "tamper", "Detector cover opened")
_event("HLT-2", "removed", "Detector taken off the wall")
_event("HLT-2", "fault", "Detector reports a cell fault")
_event("HLT-2", "self_test_failed", "Detector fails its self-test")
_event("HLT-4", "end_of_life", "Detector flags end of life", restore=None)


@scenario("detector-silent", "A mains detector goes silent (power cut to the socket)", 1.0)
def _silent(world: World, name: str) -> list[Expect]:
    d = world.households[COUPLE].kitchen
    d.silent_from = START + 10 * MIN
    return [
        Expect(
            scenario=name,
            rule="HLT-1",
            subject=d.id,
            start=d.silent_from,
            deadline=d.silent_from + LOST_S,
            standard="GB/T 45839: lost communication reported within 24 h",
            severity=str(severity_of("HLT-1")),
        )
    ]


@scenario("battery-runs-flat", "A battery detector nobody replaced: low battery, then silence", 44.0)
def _flat(world: World, name: str) -> list[Expect]:
    d = world.households[ELDER].kitchen
    d.battery, d.drain_per_day, d.started = 15.5, 24.0, START
    low = START + 0.5 / 24.0 * 86400
    dead = d.flat_at()
    return [
        Expect(
            scenario=name,
            rule="HLT-3",
            subject=d.id,
            start=low,
            deadline=low + FAULT_S,
            onset=START,
            standard="the device's low-battery event (or its 15 % reading)",
        ),
        Expect(
            scenario=name,
            rule="HLT-1",
            subject=d.id,
            start=dead,
            deadline=dead + DAILY_S + LOST_S,
            standard="GB/T 45839: a device reports at least daily; its loss is reported within 24 h of that",
            severity=str(severity_of("HLT-1", vulnerable=True)),  # she is vulnerable: P2
        ),
    ]


@scenario("stuck-cell", "A CO cell stuck at 31 ppm", 8.0)
def _stuck(world: World, name: str) -> list[Expect]:
    d = world.households[COUPLE].kitchen
    at = START + 10 * MIN
    d.stuck = (at, 31.0)
    return [
        Expect(
            scenario=name,
            rule="HLT-5",
            subject=d.id,
            start=at,
            deadline=at + 6 * HOUR + 10 * MIN,
            standard="same value for 6 h (docs/standards.md)",
        ),
        *quiet(name, d.id, ("CO-1",), "31 ppm is below every alarm level", start=at),
    ]


@scenario("drifting-cell", "An ageing CO cell drifting up 4 ppm a day", 96.0)
def _drift(world: World, name: str) -> list[Expect]:
    d = world.households[COUPLE].kitchen
    d.drift = (START, 4.0)
    return [
        Expect(
            scenario=name,
            rule="CO-3",
            subject=d.id,
            start=START,
            deadline=START + 3.5 * 86400,
            standard="no fault rule sees drift: it shows as 'ventilate' advice once the hourly mean passes 9",
        ),
        *quiet(name, d.id, ("CO-1",), "drift under 30 ppm is no alarm"),
    ]


@scenario("detector-preheat", "A detector re-powered: 3 min of pre-heat reading 15 % LEL", 1.0)
def _preheat(world: World, name: str) -> list[Expect]:
    d = world.households[COUPLE].kitchen
    at = START + 15 * MIN
    d.events += [(at, "preheat_start"), (at + 180, "preheat_end")]
    d.preheat.append((at + 1, at + 179, 15.0))
    return quiet(name, d.id, ("GAS-1", "GAS-2", "GAS-3"), "HLT-6: gas rules suppressed while pre-heating")


# -- doors and welfare ------------------------------------------------------------------------------


def _door(
    rule: str,
    name: str,
    title: str,
    events: list[tuple[float, str, dict[str, Any]]],
    due: float,
    subject: str = DOOR,
) -> None:
    @scenario(name, title, 1.0)
    def inject(world: World, scenario_name: str) -> list[Expect]:
        door = world.doors[DOOR]
        at = START + 20 * MIN
        for offset, event, fields in events:
            door.add(at + offset, event, **fields)
        raised = at + due
        return [
            Expect(
                scenario=scenario_name,
                rule=rule,
                subject=subject,
                start=raised,
                deadline=raised + ALARM_S,
                life_safety=rule in ("DR-7",),
                standard="GB/T 45839: an alarm reaches the platform within 30 s",
            )
        ]


_door(
    "DR-1",
    "door-forced",
    "The unit door forced open at night",
    [(0, "door_forced", {}), (120, "door_closed", {})],
    0,
)
_door(
    "DR-2",
    "door-propped",
    "The unit door propped open",
    [(0, "door_held_open", {}), (900, "door_closed", {})],
    30,
)
_door("DR-3", "tailgating", "Someone follows a resident in", [(0, "tailgating", {})], 0)
_door(
    "DR-4",
    "anti-passback",
    "One face used to enter three times without leaving",
    [(i * 600.0, "anti_passback", {"person": "p-201a"}) for i in range(3)],
    1200,
    subject="p-201a",
)
_door(
    "DR-5",
    "denied-faces",
    "A stranger tries the door six times",
    [(i * 40.0, "access_denied", {"method": "face"}) for i in range(6)],
    160,
)
_door(
    "DR-6",
    "spoofing",
    "A photo held up to the camera, twice",
    [(0, "liveness_failed", {}), (90, "liveness_failed", {})],
    90,
)
_door(
    "DR-7",
    "duress",
    "A resident enters under duress (duress finger/face)",
    [(0, "duress", {"person": "p-201a", "method": "face"})],
    0,
)
_door(
    "DR-8", "door-tamper", "The door reader pried open", [(0, "tamper", {}), (600, "tamper_restored", {})], 0
)


@scenario("door-offline", "The door terminal loses its network", 1.0)
def _door_offline(world: World, name: str) -> list[Expect]:
    door = world.doors[DOOR]
    door.silent_from = START + 10 * MIN
    due = door.silent_from + 600.0
    return [
        Expect(
            scenario=name,
            rule="DR-9",
            subject=DOOR,
            start=door.silent_from,
            deadline=due + door.heartbeat * 1.25 + ALARM_S,
            standard="door heartbeat every ≤ 5 min; offline after 10 min silent (docs/protocol.md)",
        )
    ]


@scenario("elder-stays-in", "An elderly woman living alone stops going out (a fall)", 50.0)
def _stays_in(world: World, name: str) -> list[Expect]:
    hh = world.households[ELDER]
    # her last passage: home from an evening walk at 19:30 on the first day; nothing after
    last = START + 2.5 * HOUR
    hh.stopped = last + 1.0
    world.doors[DOOR].passage(last - 40 * MIN, ELDER_ID, "out", world.rng)
    world.doors[DOOR].passage(last, ELDER_ID, "in", world.rng)
    due = last + 24 * HOUR
    return [
        Expect(
            scenario=name,
            rule="WEL-1",
            subject=ELDER_ID,
            start=last,
            deadline=due + 10 * MIN,
            life_safety=True,
            standard="docs/standards.md WEL-1: no passage for her welfare window (24 h)",
        )
    ]


@scenario("night-wandering", "An elderly woman living alone goes out three times after midnight", 14.0)
def _wandering(world: World, name: str) -> list[Expect]:
    night = START + 8 * HOUR  # 01:00
    for i in range(3):
        world.doors[DOOR].passage(night + i * 50 * MIN, ELDER_ID, "out", world.rng)
        world.doors[DOOR].passage(night + i * 50 * MIN + 15 * MIN, ELDER_ID, "in", world.rng)
    third = night + 100 * MIN
    return [
        Expect(
            scenario=name,
            rule="WEL-2",
            subject=ELDER_ID,
            start=third,
            deadline=third + ALARM_S + 10.0,
            standard="docs/standards.md WEL-2: the third night exit",
        )
    ]
