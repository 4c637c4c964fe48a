"""Doors and face readers (docs/standards.md §4): mostly rows, one held-open timer in code.

Forced open, tailgating, duress and reader tamper are event rows; repeated denials, anti-passback and
liveness failures are counted rows; a door held open (DR-2) times from the terminal's `door_held_open`
to `door_closed`. DR-9 (terminal offline) is a row here and shares the health family's silence clock.
"""

from __future__ import annotations

import numpy as np

from alerts.evidence import Deadline, Evidence
from alerts.rule import EC, GO, MT, P1, P2, P3, P4, PM, Counted, Event, Family, R, Rule
from alerts.rules.base import NAN, Each, Emit, Pick, State
from alerts.settings import AlertSettings
from alerts.signals import Signal
from sensors import wire

DR_1 = Rule(
    id="DR-1", family=Family.DOORS, severity=P2, notify=(PM, R), latch=True,
    title="Door forced open", title_zh="门被强行打开",
    trigger=Event(source="door", on=("door_forced",), off=("door_closed",)),
)  # fmt: skip
DR_2 = Rule(
    id="DR-2", family=Family.DOORS, severity=P3, notify=(PM,),
    title="Door held open", title_zh="门长时间未关",
)  # fmt: skip
DR_3 = Rule(
    id="DR-3", family=Family.DOORS, severity=P3, notify=(PM,), momentary=True,
    title="Tailgating", title_zh="尾随进入",
    trigger=Event(source="door", on=("tailgating",)),
)  # fmt: skip
DR_4 = Rule(
    id="DR-4", family=Family.DOORS, severity=P4, notify=(PM,), momentary=True,
    title="Repeated anti-passback", title_zh="反复反潜回",
    trigger=Counted(event="anti_passback", per="person", window="passback_window_s", count="passback_count"),
)  # fmt: skip
DR_5 = Rule(
    id="DR-5", family=Family.DOORS, severity=P3, notify=(PM,),
    title="Repeated denied access", title_zh="多次拒绝通行",
    trigger=Counted(event="access_denied", per="device", window="denied_window_s", count="denied_count",
                    clears_after_window=True),
)  # fmt: skip
DR_6 = Rule(
    id="DR-6", family=Family.DOORS, severity=P2, notify=(PM,), momentary=True,
    title="Face liveness failures", title_zh="人脸活体检测失败",
    trigger=Counted(event="liveness_failed", per="device", window="liveness_window_s",
                    count="liveness_count"),
)  # fmt: skip
DR_7 = Rule(
    id="DR-7", family=Family.DOORS, severity=P1, notify=(PM, GO), momentary=True, never=(R, EC), escalate=(),
    siren=False, title="Duress", title_zh="胁迫报警",
    trigger=Event(source="door", on=("duress",)),
)  # fmt: skip
"""Duress: the person at the door is being forced. Nobody in the home is told and nothing sounds there."""
DR_8 = Rule(
    id="DR-8", family=Family.DOORS, severity=P2, notify=(PM, MT),
    title="Door reader tamper", title_zh="门禁读头被破坏",
    trigger=Event(source="door", on=("tamper",), off=("tamper_restored",), repeat=False),
)  # fmt: skip
DR_9 = Rule(
    id="DR-9", family=Family.DOORS, severity=P3, notify=(MT, PM),
    title="Door terminal offline", title_zh="门禁终端离线",
)  # fmt: skip
ROWS = (DR_1, DR_2, DR_3, DR_4, DR_5, DR_6, DR_7, DR_8, DR_9)
EVENT_ROWS = tuple(r for r in ROWS if isinstance(r.trigger, Event))
COUNTED_ROWS = tuple(r for r in ROWS if isinstance(r.trigger, Counted))

_HELD_OPEN = wire.DOOR_EVENTS.index("door_held_open")
_CLOSED = wire.DOOR_EVENTS.index("door_closed")


class DoorRules(State):
    """DR-2: how long each door has been reported held open."""

    def __init__(self, n: int, emit: Emit) -> None:
        self._emit = emit
        self.held_since = np.full(n, NAN)
        self.held = np.zeros(n, dtype=np.bool_)

    def event(self, dev: int, t: float, code: int, ev: Evidence, out: list[Signal]) -> None:
        if code == _HELD_OPEN:
            if np.isnan(self.held_since[dev]):
                self.held_since[dev] = t
        elif code == _CLOSED:
            self.held_since[dev] = NAN
            if self.held[dev]:
                self.held[dev] = False
                out.append(self._emit(DR_2, dev, t, False, ev))

    def due(
        self,
        st: AlertSettings,
        pick: Pick,
        each: Each,
        now: float,
        out: list[Signal],
    ) -> None:
        for dev in each(~pick(self.held) & (now - pick(self.held_since) >= st.door_held_s)):
            self.held[dev] = True
            at = float(self.held_since[dev] + st.door_held_s)
            out.append(
                self._emit(DR_2, dev, at, True, Deadline(ts=at, open_since=float(self.held_since[dev])))
            )
