"""One enrolled household as its Home Assistant sees it: its devices, their open alarms, their states.

This is where "only the household's own devices ever leave" is decided: a household is its detectors and
the doors of its unit (their availability and health only), nothing else, and every transition, reading
and health state is asked first whether it is one of those. A neighbour's alarm, even in the same unit,
never reaches this household's broker.

Alarms map to entities by their rule row's traits, never by rule id: a rule whose hazard is gas sets the
`gas` binary sensor, CO the `carbon_monoxide` one, a health rule the device's `problem`. An alarm of the
household that names no single device of it (a household rule) sets the hazard's sensor of every detector
that has one. An entity is on from the alarm's raise until it clears; acknowledging does not turn it off
(the hazard may still be there).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from alerts.alarm import Alarm
from alerts.rule import Family, Hazard
from alerts.rules import RULES
from alerts.signals import Transition
from gateway.homeassistant.discovery import OFF, OFFLINE, ON, ONLINE, DeviceCard
from gateway.homeassistant.states import LatestStates

HEALTHY = frozenset({"ok", "preheat"})
"""Health states that are no problem (a detector warming up after power-on is doing its job)."""


def _entity_of(rule_id: str) -> str | None:
    rule = RULES.get(rule_id)
    if rule is None:
        return None
    if rule.hazard == Hazard.GAS:
        return "gas"
    if rule.hazard == Hazard.CO:
        return "co"
    if rule.family == Family.HEALTH:
        return "health"
    return None


class Home:
    def __init__(self, site: str, household: str, cards: Sequence[DeviceCard], states: LatestStates) -> None:
        self.site = site
        self.household = household
        self.cards = {c.device: c for c in cards}
        self.states = states
        self._alarms: dict[str, tuple[str, tuple[str, ...]]] = {}
        """Open alarm id -> (entity key, devices it is shown on)."""
        self._acked: set[str] = set()
        self._health: dict[str, bool] = {}
        for c in cards:
            for e in c.entities():
                if e.platform == "binary_sensor":
                    self.states.put(c.state_topic(e.key), OFF)
            self.states.put(c.availability_topic, ONLINE)

    def owns(self, t: Transition | Alarm) -> bool:
        """The household's own alarm, as the resident app shows it to her: of her household. A unit door's
        alarms are the unit's, not hers (she does not see them in the app either), and a rule that must
        never sound in the home (`siren` off: someone under duress) never goes to a Home Assistant that
        may have a siren automated on it."""
        rule = RULES.get(t.rule)
        return (
            t.where.site == self.site
            and t.where.household == self.household != ""
            and rule is not None
            and rule.siren
        )

    # -- alarms -----------------------------------------------------------------------------------------
    def offer(self, t: Transition) -> None:
        if not self.owns(t):
            return
        if t.transition == "cleared":
            self._alarms.pop(t.alarm_id, None)
            self._acked.discard(t.alarm_id)
        else:
            self._open(t.alarm_id, t.rule, t.subject, acked=t.transition == "acknowledged")
        self._refresh()

    def seed(self, alarms: Iterable[Alarm]) -> None:
        """The alarms already open when the household is linked (enrolled now, or the gateway restarted)."""
        for a in alarms:
            if self.owns(a):
                self._open(a.alarm_id, a.rule, a.subject, acked=a.acked)
        self._refresh()

    def _open(self, alarm_id: str, rule: str, subject: str, *, acked: bool) -> None:
        if alarm_id not in self._alarms:
            self._alarms[alarm_id] = (_entity_of(rule) or "", self._shown_on(rule, subject))
        if acked:
            self._acked.add(alarm_id)

    def _shown_on(self, rule: str, subject: str) -> tuple[str, ...]:
        key = _entity_of(rule)
        if subject in self.cards:
            return (subject,)
        if key in ("gas", "co"):
            return tuple(d for d, c in self.cards.items() if c.has(key))
        return ()

    def _refresh(self) -> None:
        on: dict[tuple[str, str], bool] = {}
        for key, devices in self._alarms.values():
            for d in devices:
                if key:
                    on[(d, key)] = True
        for d, card in self.cards.items():
            for key in ("gas", "co"):
                if card.has(key):
                    self.states.put(card.state_topic(key), ON if on.get((d, key)) else OFF)
            sick = on.get((d, "health"), False) or not self._health.get(d, True)
            self.states.put(card.state_topic("health"), ON if sick else OFF)

    def open_alarms(self, device: str) -> list[str]:
        """Alarms the device's button acknowledges: open, not yet acknowledged, shown on that device (or
        of the household and naming none of its devices, for a detector's button)."""
        out = []
        for alarm_id, (_key, devices) in self._alarms.items():
            if alarm_id in self._acked:
                continue
            if device in devices or (not devices and self.cards[device].kind != "door"):
                out.append(alarm_id)
        return out

    # -- readings and health ----------------------------------------------------------------------------
    def reading(self, device: str, co_ppm: float, gas_lel: float, battery_pct: float) -> None:
        card = self.cards[device]
        for key, value in (("co_ppm", co_ppm), ("gas_lel", gas_lel), ("battery", battery_pct)):
            if not math.isnan(value) and card.has(key):
                self.states.put(card.state_topic(key), _number(value, key))

    def health(self, device: str, online: bool | None, health: str | None) -> None:
        """The gateway's view of the device: silent is offline; a bad health state a problem."""
        card = self.cards[device]
        if online is not None:
            self.states.put(card.availability_topic, ONLINE if online else OFFLINE)
        if health is not None:
            self._health[device] = health in HEALTHY or health == "silent"  # silent shows as unavailable
            self._refresh()

    def topics(self) -> Iterable[str]:
        for c in self.cards.values():
            yield c.availability_topic
            for e in c.entities():
                if e.platform != "button":
                    yield c.state_topic(e.key)


def _number(value: float, key: str) -> bytes:
    return (f"{value:.0f}" if key == "battery" else f"{value:.1f}").encode()
