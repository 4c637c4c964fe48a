"""Event rules: a device event raises, another clears; the rows say which (`row.Event`).

One matrix per event list of the wire contract (sensor events, door events), a column per rule: the
state is whether the rule stands for the device. An event walks a prepared table from its code to the
rules it raises or clears, so adding an event rule is adding a row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from alerts.evidence import Evidence
from alerts.rule import Event, Rule
from alerts.rules.base import Emit, State
from alerts.signals import Signal


class Events(State):
    def __init__(self, name: str, rows: Sequence[Rule], names: Sequence[str], n: int, emit: Emit) -> None:
        self._rows = tuple(rows)
        self._emit = emit
        self._name = name
        setattr(self, name, np.zeros((len(self._rows), n), dtype=np.bool_))  # a row per rule
        table: dict[int, list[tuple[int, bool]]] = {}
        for j, rule in enumerate(self._rows):
            spec = rule.trigger
            if not isinstance(spec, Event):
                raise ValueError(f"{rule.id} is not an event rule")
            for event, on in [(e, True) for e in spec.on] + [(e, False) for e in spec.off]:
                if event not in names:
                    raise ValueError(
                        f"{rule.id}: {event!r} is not a {spec.source} event of the wire contract"
                    )
                table.setdefault(names.index(event), []).append((j, on))
        self._table = table

    @property
    def matrix(self) -> npt.NDArray[np.bool_]:
        value: npt.NDArray[np.bool_] = getattr(self, self._name)
        return value

    def column(self, rule: Rule) -> int:
        return self._rows.index(rule)

    def on(self, rule: Rule) -> npt.NDArray[np.bool_]:
        """Whether the rule stands, per device (a view: writes go through)."""
        row: npt.NDArray[np.bool_] = self.matrix[self.column(rule)]
        return row

    def handle(self, dev: int, t: float, code: int, ev: Evidence, out: list[Signal]) -> bool:
        """Apply one event; False when no event rule names it."""
        hits = self._table.get(code)
        if hits is None:
            return False
        state = self.matrix
        for j, on in hits:
            rule = self._rows[j]
            spec = rule.trigger
            assert isinstance(spec, Event)
            if on:
                if spec.repeat or not state[j, dev]:
                    state[j, dev] = True
                    out.append(self._emit(rule, dev, t, True, ev))
            elif state[j, dev]:
                state[j, dev] = False
                out.append(self._emit(rule, dev, t, False, ev))
        return True
