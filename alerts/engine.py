"""The alert engine: decoded batches, acknowledgements and the clock in; alarm transitions out.

The same object runs live (the gateway calls `advance` with wall time) and in replay (`advance` with the
largest event time seen), so a rule behaves identically over a recorded week and over a live week.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from alerts import snapshot
from alerts.core import RuleCore
from alerts.lifecycle import Lifecycle
from alerts.settings import AlertSettings
from alerts.signals import Acknowledgement, Signal, Transition
from alerts.site import SiteModel
from sensors.columns import DecodedBatch


class Engine:
    def __init__(self, model: SiteModel) -> None:
        self.model = model
        self.core = RuleCore(model)
        self.lifecycle = Lifecycle(model.settings, next(iter(model.settings.values()), AlertSettings()))
        self.clock = float("-inf")
        self.shape = _shape(model)
        self.fresh_columns: list[str] = []

    def process(self, batch: DecodedBatch) -> list[Transition]:
        signals, acks = self.core.process(batch)
        out = self._signals(signals)
        for ack in acks:
            out += self.acknowledge(ack)
        return out

    def advance(self, now: float) -> list[Transition]:
        """Move the clock forward: silence, held-for timers, re-alarms, escalations, in time order."""
        if now < self.clock:
            return []
        self.clock = now
        out = self._signals(self.core.due(now))
        out += self.lifecycle.advance(now)
        return out

    def acknowledge(self, ack: Acknowledgement) -> list[Transition]:
        out = self.lifecycle.acknowledge(ack)
        for t in out:
            if t.transition == "acknowledged":
                self.core.acknowledged(t.rule, t.where, t.subject, ack.ts)
        return out

    def set_away(self, site: str, person: str, away: bool) -> bool:
        """A resident's "I'm away" from the app: the stove-left-on and welfare rules read it from now on.
        False when the rules do not know the person."""
        p = self.model.person(site, person)
        if p is None:
            return False
        self.model.away[p] = away
        self.core.recount(int(self.model.person_household[p]))  # WEL-3 watches the home from the next reading
        return True

    def system(self, s: Signal) -> list[Transition]:
        """A signal about the system itself (a notification channel refusing a target), not a device."""
        return self._signals([s])

    def _signals(self, signals: Sequence[Signal]) -> list[Transition]:
        out: list[Transition] = []
        for s in sorted(signals, key=lambda s: s.ts):
            out += self.lifecycle.advance(s.ts)  # timers due before this signal fire first
            out += self.lifecycle.signal(s)
        return out

    # -- persistence ------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Everything needed to resume mid-exposure: dose and timers per device, the open alarms
        (declared columns in msgpack: `alerts.snapshot`)."""
        return snapshot.dump(self)

    def restore(self, blob: bytes | memoryview) -> bool:
        """Resume from a snapshot written by this gateway. False (start fresh) if the registry changed shape:
        per-device columns only line up with the same devices in the same order. Columns whose declaration
        changed since the snapshot start fresh and are listed in `fresh_columns`."""
        same, self.fresh_columns = snapshot.load(self, blob)
        return same


def _shape(model: SiteModel) -> str:
    """A digest of which device and person each row of the rule state belongs to. Snapshots carry this
    instead of the 300k ids themselves, which cost 25 MB to load and compare at every start."""
    digest = hashlib.sha256()
    for names in (model.index.ids, model.index.site, model.person_ids):
        digest.update("\0".join(names).encode())
        digest.update(b"\1")
    return digest.hexdigest()
