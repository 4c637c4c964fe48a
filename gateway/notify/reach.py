"""Whether an alarm reached a person: the one account of who was told, and the standing alarm when nobody was.

A P1 or P2 alert that has no address to go to (nobody in its audiences has a phone, a number or a bot), or
whose every delivery to a person gave up, must not look handled. The notifier tells this ledger what it
planned and how each delivery ended; the ledger raises **SYS-UNREACHED** (P2, to GO and PM, subject: the
alarm's id) through the same lifecycle as every alarm, and lets it return to normal the moment a person is
reached or someone answers the alarm. It stays on the console until acknowledged, like any alarm.

What the API shows as *notified* comes from here and the outbox (deliveries an address accepted), never
from the audiences the rules chose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from alerts.evidence import SystemEvidence
from alerts.rules.system import SYS_UNREACHED
from alerts.signals import Signal, Transition, Where

log = logging.getLogger(__name__)

URGENT = ("P1", "P2")
ALERTS = ("raised", "escalated", "reminded", "updated")
RULE = SYS_UNREACHED.id


class Reach:
    def __init__(self, report: Callable[[Signal], Any] | None) -> None:
        self.report = report
        self.reached: dict[str, set[str]] = {}  # alarm -> recipients an alert of it was sent to
        self.standing: dict[str, Where] = {}  # alarm -> where its SYS-UNREACHED was raised

    def planned(self, t: Transition, people: int, now: float) -> None:
        """A transition planned with `people` deliveries to persons (none, for an urgent alert: unreached)."""
        if t.transition in ("acknowledged", "cleared"):
            self.answered(t.alarm_id, t.where, now)
            return
        watched = self._watched(t.rule, str(t.severity), t.transition)
        if people == 0 and t.notify and watched and not self.reached.get(t.alarm_id):
            self._raise(t.alarm_id, t.rule, t.where, now, "no address for anyone in its audiences")

    def sent(self, alarm_id: str, recipient: str, where: Where, now: float) -> None:
        self.reached.setdefault(alarm_id, set()).add(recipient)
        self._clear(alarm_id, where, now, "a person was reached")

    def gave_up(
        self, alarm_id: str, rule: str, severity: str, where: Where, others_open: bool, now: float
    ) -> None:
        """A delivery to a person failed for good; `others_open`: another for this alarm may still arrive."""
        if others_open or self.reached.get(alarm_id) or not self._watched(rule, severity, "raised"):
            return
        self._raise(alarm_id, rule, where, now, "every delivery to a person failed")

    def answered(self, alarm_id: str, where: Where, now: float) -> None:
        """Acknowledged or over: nothing is left to reach anyone about."""
        self._clear(alarm_id, where, now, "the alarm was answered or is over")

    def forget(self, alarm_id: str) -> None:
        self.reached.pop(alarm_id, None)

    @staticmethod
    def _watched(rule: str, severity: str, transition: str) -> bool:
        return severity in URGENT and transition in ALERTS and rule != RULE

    def _raise(self, alarm_id: str, rule: str, where: Where, now: float, why: str) -> None:
        if alarm_id in self.standing:
            return
        self.standing[alarm_id] = where
        log.error("alarm %s (%s) reached nobody: %s", alarm_id, rule, why)
        self._signal(
            alarm_id, where, now, True, SystemEvidence(ts=now, alarm_id=alarm_id, rule=rule, why=why)
        )

    def _clear(self, alarm_id: str, where: Where, now: float, why: str) -> None:
        if self.standing.pop(alarm_id, None) is None:
            return
        self._signal(alarm_id, where, now, False, SystemEvidence(ts=now, alarm_id=alarm_id, why=why))

    def _signal(self, alarm_id: str, where: Where, now: float, on: bool, evidence: SystemEvidence) -> None:
        if self.report is not None:
            self.report(Signal(ts=now, rule=RULE, subject=alarm_id, on=on, where=where, evidence=evidence))
