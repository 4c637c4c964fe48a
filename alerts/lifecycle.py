"""Alarm lifecycle (standards §5, ISA-18.2 words): one alarm per (rule, subject), and what it does in time.

Alarms are sparse — a handful among 100k devices — so they live in a dict, and their timers in a heap.
Per-device state, which is dense, lives in `alerts.core`. Nothing here reads a clock: every call carries
the time, so live ingest and replay behave the same.
"""

from __future__ import annotations

import heapq
from collections import deque

# Alarm is also found here by the pickled snapshots earlier versions wrote (alerts.snapshot reads them once)
from alerts.alarm import Alarm, Key, alarm_id, keep, reachable, stamp_ms, transition
from alerts.evidence import SystemEvidence
from alerts.rule import Audience, Rule, Severity
from alerts.rules import RULES
from alerts.rules.system import SYS_CHATTER, SYS_FLOOD, SYS_UNACKED
from alerts.settings import AlertSettings
from alerts.signals import Acknowledgement, Signal, Transition, Where

STAMP_HORIZON_S = 2 * 86_400.0
"""How long a key's last stamp is kept: past the 24 h backfill window no raise can land before it."""


class Lifecycle:
    def __init__(self, settings: dict[str, AlertSettings], default: AlertSettings) -> None:
        self.settings = settings
        self.default = default
        self.alarms: dict[Key, Alarm] = {}
        self.by_id: dict[str, Alarm] = {}
        self.pending: dict[Key, Signal] = {}
        self.timers: list[tuple[float, int, str, Key, int]] = []
        self._seq = 0
        self.flips: dict[Key, deque[float]] = {}
        self.extra_delay: dict[Key, float] = {}
        self.raises: dict[str, deque[float]] = {}
        self.incidents: dict[tuple[str, str], str] = {}  # (site, building) -> flood incident alarm id
        self.stamps: dict[Key, int] = {}  # the last id millisecond each key used (ids never repeat)
        self._stamps_pruned = 0.0

    def _settings(self, site: str) -> AlertSettings:
        return self.settings.get(site, self.default)

    def _timer(self, ts: float, kind: str, key: Key, step: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self.timers, (ts, self._seq, kind, key, step))

    def next_deadline(self) -> float:
        return self.timers[0][0] if self.timers else float("inf")

    # -- inputs -----------------------------------------------------------------------------------

    def signal(self, s: Signal) -> list[Transition]:
        key = (s.rule, s.subject, s.where.site)
        if s.on:
            return self._on(key, s)
        return self._off(key, s)

    def acknowledge(self, ack: Acknowledgement) -> list[Transition]:
        alarm = self._find(ack)
        if alarm is None or alarm.acked:
            return []
        alarm.acked, alarm.acked_ts, alarm.acked_by = True, ack.ts, ack.by
        # Everyone told of the alarm hears that it is in hand (their phones stop reminding them).
        out = [transition(alarm, "acknowledged", ack.ts, tuple(alarm.notified), by=ack.by)]
        out += self._answered(alarm, ack.ts)
        rule = RULES[alarm.rule]
        if rule.momentary:
            alarm.condition = False
        if not alarm.condition:
            out += self._close(alarm, ack.ts, announce=rule.latch or rule.momentary)
        return out

    def advance(self, now: float) -> list[Transition]:
        """Fire the on-delays and escalations that fell due up to `now`, each stamped with its own time."""
        out: list[Transition] = []
        self._prune_stamps(now)
        while self.timers and self.timers[0][0] <= now:
            ts, _, kind, key, step = heapq.heappop(self.timers)
            if kind == "on-delay":
                pending = self.pending.get(key)
                if pending is not None and pending.ts + self._on_delay(key, pending.where.site) <= ts:
                    del self.pending[key]
                    out += self._raise(key, pending, ts)
            elif kind == "escalate":
                alarm = self.alarms.get(key)
                if alarm is not None and not alarm.acked and alarm.escalation_step == step:
                    out += self._escalate(alarm, ts)
            elif kind == "remind":
                alarm = self.alarms.get(key)
                if alarm is not None and stamp_ms(alarm) == step:
                    out += self._remind(alarm, ts)
        return out

    # -- internals --------------------------------------------------------------------------------

    def _find(self, ack: Acknowledgement) -> Alarm | None:
        if ack.alarm_id is not None:
            return self.by_id.get(ack.alarm_id)
        if ack.rule is not None and ack.subject is not None:
            if ack.site is not None:
                return self.alarms.get((ack.rule, ack.subject, ack.site))
            return next((a for k, a in self.alarms.items() if k[:2] == (ack.rule, ack.subject)), None)
        return None

    def _on_delay(self, key: Key, site: str) -> float:
        return self._settings(site).on_delay_s.get(key[0], 0.0) + self.extra_delay.get(key, 0.0)

    def _on(self, key: Key, s: Signal) -> list[Transition]:
        alarm = self.alarms.get(key)
        if alarm is not None:
            return self._repeat(alarm, s)
        delay = self._on_delay(key, s.where.site)
        if delay > 0:
            if key not in self.pending:
                self.pending[key] = s
                self._timer(s.ts + delay, "on-delay", key)
            return []
        return self._raise(key, s, s.ts)

    def _off(self, key: Key, s: Signal) -> list[Transition]:
        self.pending.pop(key, None)
        alarm = self.alarms.get(key)
        if alarm is None or not alarm.condition:
            return []
        alarm.condition = False
        keep(alarm, s.evidence)
        out = self._flip(key, s)
        rule = RULES[alarm.rule]
        if rule.latch and not alarm.acked:
            return out  # latched: stays active until acknowledged (§5)
        if alarm.acked:
            return self._close(alarm, s.ts, announce=True) + out
        return self._cleared_unacked(alarm, s.ts) + out

    def _raise(self, key: Key, s: Signal, ts: float) -> list[Transition]:
        rule = RULES[s.rule]
        severity = s.severity or rule.severity
        alarm = Alarm(
            alarm_id=alarm_id(s.where.site, s.rule, s.subject, self._stamp(key, ts)),
            rule=s.rule,
            subject=s.subject,
            where=s.where,
            severity=severity,
            raised_ts=ts,
            last_ts=ts,
        )
        keep(alarm, s.evidence)
        self.alarms[key] = alarm
        self.by_id[alarm.alarm_id] = alarm
        out: list[Transition] = []
        notify = reachable(rule, rule.notify + s.extra)
        incident = self._flood(alarm, rule, ts, out)
        if incident is not None:
            alarm.group = incident
            notify = ()
        alarm.notified = list(notify)
        out.insert(0, transition(alarm, "raised", ts, notify))
        out += self._flip(key, s)
        steps = rule.escalation(self._settings(s.where.site).p1_escalate_s)
        if steps:
            self._timer(ts + steps[0][0], "escalate", key, 0)
        if severity == Severity.P1:
            self._remind_later(alarm, ts)
        return out

    def _stamp(self, key: Key, ts: float) -> int:
        """The id's millisecond: the raise time, or one past the key's last id if that is not later.

        An alarm acknowledged and closed can be raised again within the same millisecond of event time (a
        door rule in one batch, a replay); two alarms sharing an id would share acknowledgements and
        deliveries. The stamp is a function of the history, so live and replay still agree.
        """
        ms = round(ts * 1000)
        last = self.stamps.get(key)
        if last is not None and ms <= last:
            ms = last + 1
        self.stamps[key] = ms
        return ms

    def _prune_stamps(self, now: float) -> None:
        if now - self._stamps_pruned < 3600.0:
            return
        self._stamps_pruned = now
        horizon = round((now - STAMP_HORIZON_S) * 1000)
        self.stamps = {k: ms for k, ms in self.stamps.items() if ms >= horizon or k in self.alarms}

    def _remind_later(self, alarm: Alarm, ts: float) -> None:
        # the timer carries the alarm's stamp, so a later alarm on the same key ignores it
        self._timer(
            ts + self._settings(alarm.where.site).p1_remind_s,
            "remind",
            alarm.key,
            stamp_ms(alarm),
        )

    def _remind(self, alarm: Alarm, ts: float) -> list[Transition]:
        """An unacknowledged P1 goes again to everyone told, every `p1_remind_s`, until someone answers or it
        clears: a phone on silent, a missed call, a bot message scrolled away. Once its escalation chain is
        spent, the control room gets a standing SYS-UNACKED alarm saying nobody has answered."""
        latched = RULES[alarm.rule].latch  # a latched P1 stands until acknowledged, its condition gone or not
        if alarm.acked or (not alarm.condition and not latched) or alarm.severity != Severity.P1:
            return []
        self._remind_later(alarm, ts)
        st = self._settings(alarm.where.site)
        at, fresh = alarm.escalated
        told = tuple(a for a in alarm.notified if not (at == ts and a in fresh))  # not who was told just now
        out = [transition(alarm, "reminded", ts, told)]
        steps = RULES[alarm.rule].escalation(st.p1_escalate_s)
        key = (SYS_UNACKED.id, alarm.alarm_id, alarm.where.site)
        spent = alarm.escalation_step >= len(steps) and ts - max(at, alarm.raised_ts) >= st.p1_remind_s
        if spent and key not in self.alarms:
            minutes = round((ts - alarm.raised_ts) / 60)
            s = Signal(
                ts=ts,
                rule=SYS_UNACKED.id,
                subject=alarm.alarm_id,
                on=True,
                where=alarm.where,
                evidence=SystemEvidence(alarm_id=alarm.alarm_id, rule=alarm.rule, unanswered_min=minutes),
            )
            out += self._raise(key, s, ts)
        return out

    def _answered(self, alarm: Alarm, ts: float) -> list[Transition]:
        """Someone answered the alarm, or it is over: its SYS-UNACKED closes with it."""
        standing = self.alarms.get((SYS_UNACKED.id, alarm.alarm_id, alarm.where.site))
        if standing is None:
            return []
        return self._close(standing, ts, announce=True)

    def _repeat(self, alarm: Alarm, s: Signal) -> list[Transition]:
        """A repeat updates the one alarm: a worse severity, or a condition back after clearing."""
        keep(alarm, s.evidence)
        rule = RULES[alarm.rule]
        worse = s.severity is not None and s.severity < alarm.severity
        back = not alarm.condition
        if not worse and not back:
            return []
        alarm.condition = True
        # Back after clearing is a re-alarm: everyone already told is told again (§5).
        notify: tuple[Audience, ...] = tuple(alarm.notified) if back else ()
        if worse:
            assert s.severity is not None
            alarm.severity = s.severity
            if s.severity == Severity.P1:
                self._remind_later(alarm, s.ts)
            fresh = reachable(rule, rule.notify + s.extra)
            alarm.notified = sorted(set(alarm.notified) | set(fresh))
            notify = tuple(alarm.notified)
        out = [
            transition(alarm, "updated", s.ts, notify, evidence=() if s.evidence is None else (s.evidence,))
        ]
        if back:
            out += self._flip(alarm.key, s)
        return out

    def _escalate(self, alarm: Alarm, ts: float) -> list[Transition]:
        rule = RULES[alarm.rule]
        steps = rule.escalation(self._settings(alarm.where.site).p1_escalate_s)
        if alarm.escalation_step >= len(steps):
            return []
        _, audiences = steps[alarm.escalation_step]
        notify = tuple(a for a in reachable(rule, audiences) if a not in alarm.notified)
        alarm.notified += notify
        alarm.escalation_step += 1
        alarm.escalated = (ts, notify)
        if alarm.escalation_step < len(steps):
            self._timer(
                alarm.raised_ts + steps[alarm.escalation_step][0],
                "escalate",
                alarm.key,
                alarm.escalation_step,
            )
        return [transition(alarm, "escalated", ts, notify)] if notify else []

    def _cleared_unacked(self, alarm: Alarm, ts: float) -> list[Transition]:
        """Condition over but nobody acknowledged: announce it, keep the alarm visible until acknowledged."""
        return [transition(alarm, "cleared", ts, tuple(alarm.notified))]

    def _close(self, alarm: Alarm, ts: float, *, announce: bool) -> list[Transition]:
        self.alarms.pop(alarm.key, None)
        self.by_id.pop(alarm.alarm_id, None)
        answered = self._answered(alarm, ts)
        if not announce:
            return answered
        return [transition(alarm, "cleared", ts, tuple(alarm.notified)), *answered]

    def _flip(self, key: Key, s: Signal) -> list[Transition]:
        """Chattering (§5): more than N raise/clear flips in the window doubles the rule's on-delay for this
        subject and tells maintenance, once."""
        st = self._settings(s.where.site)
        flips = self.flips.setdefault(key, deque(maxlen=st.chatter_transitions + 1))
        flips.append(s.ts)
        if len(flips) > st.chatter_transitions and s.ts - flips[0] <= st.chatter_window_s:
            before = self.extra_delay.get(key, 0.0)
            self.extra_delay[key] = min(max(2 * before, st.chatter_on_delay_s), 3600.0)
            flips.clear()
            chatter = (SYS_CHATTER.id, f"{key[1]}/{key[0]}", key[2])
            if chatter not in self.alarms:
                return self._raise(
                    chatter,
                    Signal(
                        ts=s.ts,
                        rule=SYS_CHATTER.id,
                        subject=chatter[1],
                        on=True,
                        where=s.where,
                        evidence=SystemEvidence(rule=key[0], on_delay_s=self.extra_delay[key]),
                    ),
                    s.ts,
                )
        return []

    def _flood(self, alarm: Alarm, rule: Rule, ts: float, out: list[Transition]) -> str | None:
        """More than N raises in the window at one site: P3/P4 join one incident per building (§5)."""
        st = self._settings(alarm.where.site)
        recent = self.raises.setdefault(alarm.where.site, deque())
        recent.append(ts)
        while recent and recent[0] < ts - st.flood_window_s:
            recent.popleft()
        if rule.system or not rule.groupable or len(recent) <= st.flood_alarms:
            return None
        place = (alarm.where.site, alarm.where.building)
        incident_id = self.incidents.get(place)
        incident = self.by_id.get(incident_id) if incident_id else None
        member = SystemEvidence(alarm_id=alarm.alarm_id, rule=alarm.rule, subject=alarm.subject)
        if incident is None:
            key = (SYS_FLOOD.id, alarm.where.building or alarm.where.site, alarm.where.site)
            s = Signal(
                ts=ts,
                rule=SYS_FLOOD.id,
                subject=key[1],
                on=True,
                where=Where(alarm.where.site, alarm.where.building),
                evidence=member,
            )
            out += self._raise(key, s, ts)
            incident = self.alarms[key]
            self.incidents[place] = incident.alarm_id
        else:
            keep(incident, member)
            out.append(transition(incident, "updated", ts, (), evidence=(member,)))
        return incident.alarm_id
