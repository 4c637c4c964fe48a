"""Scalar reference implementations of the reading-driven rules: one reading at a time, straight from
docs/standards.md, written for clarity rather than speed. The vectorised core must produce the same signals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alerts.settings import AlertSettings


@dataclass
class Device:
    vulnerable: bool = False
    co_t: float | None = None
    co: float | None = None
    dose: float = 0.0
    fast: float = 0.0
    co1: bool = False
    low_since: float | None = None
    x: float | None = None
    co4: int = 0
    gas_hist: list[tuple[float, float]] = field(default_factory=list)
    s1: float | None = None
    s2: float | None = None
    g_low: float | None = None
    flat: float | None = None
    gas1: bool = False
    gas2: bool = False
    gas3: bool = False


Signal = tuple[str, int, bool, float]  # rule, device, on, ts


def step(
    st: AlertSettings, dev: int, d: Device, t: float, co: float | None, gas: float | None
) -> list[Signal]:
    out: list[Signal] = []
    if co is not None:
        out += _co(st, dev, d, t, co)
    if gas is not None:
        out += _gas(st, dev, d, t, gas)
    return out


def _co(st: AlertSettings, dev: int, d: Device, t: float, c: float) -> list[Signal]:
    out: list[Signal] = []
    p = st.co
    if d.co_t is None:
        dt, now, cbar = 0.0, t, c
    else:
        dt = max(t - d.co_t, 0.0)
        now = max(d.co_t, t)
        cbar = (d.co + c) / 2 if dt <= st.dose_gap_s and d.co is not None else c
    dte = min(dt, st.dose_gap_s)
    d.dose = cbar / p.c0_ppm + (d.dose - cbar / p.c0_ppm) * math.exp(-dte / p.tau_s)
    d.fast = d.fast + dte if c >= p.fast_ppm else 0.0
    d.co_t, d.co = now, c
    if c < st.co_clear_ppm:
        d.low_since = now if d.low_since is None else d.low_since
    else:
        d.low_since = None
    alarm = d.dose >= 1 or d.fast >= p.fast_hold_s
    if not d.co1 and alarm:
        d.co1 = True
        out.append(("CO-1", dev, True, t))
    elif (
        d.co1
        and d.low_since is not None
        and now - d.low_since >= st.co_clear_hold_s
        and d.dose < st.co_clear_dose
    ):
        d.co1 = False
        out.append(("CO-1", dev, False, t))
    if d.vulnerable:
        k = st.cfk
        x = k.baseline_pct / 100 * k.h if d.x is None else d.x
        pico = cbar * 1e-6 * k.pl_mmhg
        tau = k.m * (k.h - x) * k.vb_ml * k.b / k.pco2_mmhg
        xeq = (k.h - x) * k.m * (k.vco_ml_min * k.b + pico) / k.pco2_mmhg
        d.x = xeq + (x - xeq) * math.exp(-(dte / 60) / tau)
        pct = 100 * d.x / k.h
        level = 2 if pct >= st.cohb_urgent_pct else 1 if pct >= st.cohb_raise_pct else 0
        new = 0 if pct < st.cohb_clear_pct else max(d.co4, level)
        if new != d.co4:
            out.append(("CO-4", dev, new > 0, t))
            d.co4 = new
    return out


def _gas(st: AlertSettings, dev: int, d: Device, t: float, g: float) -> list[Signal]:
    out: list[Signal] = []
    now = t if not d.gas_hist else max(d.gas_hist[-1][0], t)
    d.s1 = (d.s1 if d.s1 is not None else now) if g >= st.gas_stage1_lel else None
    d.s2 = (d.s2 if d.s2 is not None else now) if g >= st.gas_stage2_lel else None
    d.g_low = (d.g_low if d.g_low is not None else now) if g <= st.gas_release_lel else None
    slope1 = slope3 = math.nan
    if d.gas_hist and now != d.gas_hist[-1][0]:
        slope1 = (g - d.gas_hist[-1][1]) / (now - d.gas_hist[-1][0]) * 60
    if len(d.gas_hist) >= 2 and now != d.gas_hist[-2][0]:
        slope3 = (g - d.gas_hist[-2][1]) / (now - d.gas_hist[-2][0]) * 60
    rising = g >= st.gas_rise_min_lel and slope3 >= st.gas_rise_lel_per_min and slope1 > 0
    d.flat = (d.flat if d.flat is not None else now) if not slope1 > 0 else None
    d.gas_hist = [*d.gas_hist[-1:], (now, g)]
    if not d.gas3 and rising:
        d.gas3 = True
        out.append(("GAS-3", dev, True, t))
    elif d.gas3 and d.flat is not None and now - d.flat >= st.gas_rise_clear_s:
        d.gas3 = False
        out.append(("GAS-3", dev, False, t))
    for rule, attr, since, hold in (
        ("GAS-1", "gas1", d.s1, st.gas_stage1_hold_s),
        ("GAS-2", "gas2", d.s2, st.gas_stage2_hold_s),
    ):
        on = getattr(d, attr)
        if not on and since is not None and now - since >= hold:
            setattr(d, attr, True)
            out.append((rule, dev, True, since + hold))
        elif on and d.g_low is not None and now - d.g_low >= st.gas_release_hold_s:
            setattr(d, attr, False)
            out.append((rule, dev, False, d.g_low + st.gas_release_hold_s))
    return out
