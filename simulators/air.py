"""What a detector is really exposed to: true gas (%LEL) and CO (ppm) as sums of first-order sources.

A kitchen is close enough to one well-mixed box: a source (a burner, a water heater, a leak, a brazier)
drives the concentration towards its level with a rise time, and ventilation takes it away with a fall
time once the source stops. Every cause in the library is one `Pulse`; what a detector sees is their sum.
No clock and no randomness here: the models in `life` and `library` pick the pulses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Times = npt.NDArray[np.float64]

TAIL = 8.0
"""A pulse is taken as gone `TAIL` fall times after its source stopped (e^-8 of its level)."""


@dataclass(frozen=True, slots=True)
class Pulse:
    """A source on from `start` to `end` (seconds) driving the air towards `level` with time constant `rise`;
    after `end` it decays with time constant `fall`. `end` may be infinite (a leak nobody stops)."""

    start: float
    end: float
    level: float
    rise: float
    fall: float

    def at(self, t: Times) -> Times:
        on = self.level * -np.expm1(-np.clip(t - self.start, 0.0, None) / self.rise)
        if np.isfinite(self.end):
            peak = self.level * -np.expm1(-max(self.end - self.start, 0.0) / self.rise)
            after = peak * np.exp(-np.clip(t - self.end, 0.0, None) / self.fall)
            on = np.where(t < self.end, on, after)
        return np.where(t < self.start, 0.0, on)

    @property
    def until(self) -> float:
        return self.end + TAIL * self.fall

    def first_reaching(self, value: float) -> float | None:
        """When the true concentration first reaches `value` (None if it never does)."""
        if value >= self.level:
            return None
        at = self.start - self.rise * float(np.log1p(-value / self.level))
        return at if at <= self.end else None


def ramp(start: float, lel_per_min: float, plateau: float, end: float = np.inf) -> Pulse:
    """A leak rising at `lel_per_min` at first and levelling off at `plateau` (the room's balance)."""
    return Pulse(start, end, plateau, rise=plateau / lel_per_min * 60.0, fall=300.0)


def concentration(pulses: Sequence[Pulse], t: Times, base: float = 0.0) -> Times:
    """The sum of the pulses at the (sorted) times `t`, each evaluated only where it is not zero."""
    out = np.full(t.shape, base, dtype=np.float64)
    for p in pulses:
        lo, hi = np.searchsorted(t, (p.start, p.until))
        if hi > lo:
            out[lo:hi] += p.at(t[lo:hi])
    return out
