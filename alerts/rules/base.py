"""What every family's state shares: per-device columns found by name, and one way to make a `Signal`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from alerts.evidence import Evidence
from alerts.rule import Audience, Rule, Severity
from alerts.signals import Signal
from alerts.site import SiteModel
from sensors.columns import F64

NAN = np.nan
INF = np.inf

Pick = Callable[[Any], Any]
"""The clock's view of a column: the devices of one site group (or all of them)."""
Each = Callable[[npt.NDArray[np.bool_]], Iterator[int]]
"""Device indices where a picked mask holds."""


def since(cond: npt.NDArray[np.bool_], old: F64, t: F64) -> F64:
    """When a condition became true (kept while it holds), NaN while it does not hold."""
    return np.where(cond, np.where(np.isnan(old), t, old), NAN)


def alone_home(model: SiteModel) -> npt.NDArray[np.bool_]:
    """Per device: whether it is in the home of someone living alone, where cooking is a sign of life."""
    alone = np.zeros(len(model.household_ids) + 1, dtype=np.bool_)  # the last entry: "no household"
    alone[model.person_household[model.lives_alone]] = True
    at_home: npt.NDArray[np.bool_] = alone[model.household_of]
    return at_home


class State:
    """A family's state: every public numpy attribute is a column, saved in snapshots under its name."""

    def columns(self) -> dict[str, npt.NDArray[np.generic]]:
        return {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray) and not k.startswith("_")}

    def restore(self, columns: dict[str, npt.NDArray[np.generic]]) -> None:
        for name, value in columns.items():
            current = getattr(self, name, None)
            if isinstance(current, np.ndarray) and current.shape == value.shape:
                setattr(self, name, value.astype(current.dtype, copy=False))


class Emit:
    """Signals for a device row, named by the registry: the one place a device index becomes an id."""

    def __init__(self, model: SiteModel) -> None:
        self.model = model

    def __call__(
        self,
        rule: Rule,
        dev: int,
        ts: float,
        on: bool,
        evidence: Evidence,
        *,
        severity: Severity | None = None,
        extra: tuple[Audience, ...] = (),
    ) -> Signal:
        return Signal(
            ts=ts,
            rule=rule.id,
            subject=self.model.index.ids[dev],
            on=on,
            where=self.model.where(dev),
            severity=severity,
            extra=extra,
            evidence=evidence,
        )
