"""The rule state on disk: declared columns and the open alarms in msgpack, so a restart resumes mid-exposure.

A pickle of `vars(self)` made the file format whatever the attributes happened to be called: renaming one
silently dropped its state at the next start, and unpickling runs whatever the file names. Here every part
is declared: each per-device column by (name, dtype, row shape) with a digest of the declaration, the
lifecycle by its fields. A column whose declaration changed (renamed, new dtype) starts fresh, and says so;
the others are restored. Snapshots written as pickles by earlier versions are read once, for the upgrade.
"""

from __future__ import annotations

import hashlib
import pickle
from collections import deque
from typing import Any, Protocol

import msgspec
import numpy as np

from alerts.alarm import Alarm
from alerts.core import RuleCore
from alerts.evidence import as_dict, from_dict
from alerts.lifecycle import Lifecycle
from alerts.rule import Audience, Severity
from alerts.signals import Signal, Where


class Engine(Protocol):
    """What a snapshot holds of the engine (`alerts.engine.Engine`): its core, lifecycle, clock and shape."""

    core: RuleCore
    lifecycle: Lifecycle
    clock: float
    shape: str


FORMAT = 2
PICKLE_VERSION = 1
"""The last pickled format; read for one upgrade, never written."""


class Column(msgspec.Struct, array_like=True):
    name: str
    dtype: str
    shape: list[int]
    data: bytes


class Snapshot(msgspec.Struct, kw_only=True):
    format: int
    shape: str
    """Digest of which device and person each row belongs to (`alerts.engine._shape`)."""
    declaration: str
    """Digest of the columns' (name, dtype, row shape): tells at a glance whether they all line up."""
    columns: list[Column]
    started: float
    windows: list[tuple[str, str, int | None, list[float]]]
    clock: float
    lifecycle: dict[str, Any]


def declaration(columns: dict[str, np.ndarray[Any, Any]]) -> str:
    digest = hashlib.sha256()
    for name in sorted(columns):
        value = columns[name]
        digest.update(f"{name}:{value.dtype.str}:{value.shape[1:]}\n".encode())
    return digest.hexdigest()[:16]


def _signal(s: Signal) -> dict[str, Any]:
    return {
        "ts": s.ts,
        "rule": s.rule,
        "subject": s.subject,
        "on": s.on,
        "where": list(s.where),
        "severity": None if s.severity is None else int(s.severity),
        "extra": [str(a) for a in s.extra],
        "evidence": None if s.evidence is None else as_dict(s.evidence),
    }


def _unsignal(d: dict[str, Any]) -> Signal:
    return Signal(
        ts=d["ts"],
        rule=d["rule"],
        subject=d["subject"],
        on=d["on"],
        where=Where(*d["where"]),
        severity=None if d["severity"] is None else Severity(d["severity"]),
        extra=tuple(Audience(a) for a in d["extra"]),
        evidence=from_dict(d["evidence"]) if d["evidence"] else None,
    )


def _alarm(a: Alarm) -> dict[str, Any]:
    return {
        "alarm_id": a.alarm_id,
        "rule": a.rule,
        "subject": a.subject,
        "where": list(a.where),
        "severity": int(a.severity),
        "raised_ts": a.raised_ts,
        "condition": a.condition,
        "acked": a.acked,
        "acked_ts": a.acked_ts,
        "acked_by": a.acked_by,
        "notified": [str(x) for x in a.notified],
        "escalation_step": a.escalation_step,
        "group": a.group,
        "evidence": [as_dict(e) for e in a.evidence],
        "last_ts": a.last_ts,
        "escalated": [a.escalated[0], [str(x) for x in a.escalated[1]]],
    }


def _unalarm(d: dict[str, Any]) -> Alarm:
    at, who = d["escalated"]
    return Alarm(
        alarm_id=d["alarm_id"],
        rule=d["rule"],
        subject=d["subject"],
        where=Where(*d["where"]),
        severity=Severity(d["severity"]),
        raised_ts=d["raised_ts"],
        condition=d["condition"],
        acked=d["acked"],
        acked_ts=d["acked_ts"],
        acked_by=d["acked_by"],
        notified=[Audience(x) for x in d["notified"]],
        escalation_step=d["escalation_step"],
        group=d["group"],
        evidence=[from_dict(e) for e in d["evidence"]],
        last_ts=d["last_ts"],
        escalated=(at, tuple(Audience(x) for x in who)),
    )


def _lifecycle(life: Lifecycle) -> dict[str, Any]:
    return {
        "alarms": [_alarm(a) for a in life.alarms.values()],
        "pending": [_signal(s) for s in life.pending.values()],
        "timers": [[ts, seq, kind, list(key), step] for ts, seq, kind, key, step in life.timers],
        "seq": life._seq,
        "flips": [[list(k), v.maxlen, list(v)] for k, v in life.flips.items()],
        "extra_delay": [[list(k), v] for k, v in life.extra_delay.items()],
        "raises": {site: list(v) for site, v in life.raises.items()},
        "incidents": [[site, building, alarm_id] for (site, building), alarm_id in life.incidents.items()],
        "stamps": [[list(k), ms] for k, ms in life.stamps.items()],
    }


def _relifecycle(life: Lifecycle, d: dict[str, Any]) -> None:
    alarms = [_unalarm(a) for a in d["alarms"]]
    life.alarms = {a.key: a for a in alarms}
    life.by_id = {a.alarm_id: a for a in alarms}
    life.pending = {(s.rule, s.subject, s.where.site): s for s in map(_unsignal, d["pending"])}
    life.timers = [(ts, seq, kind, (k[0], k[1], k[2]), step) for ts, seq, kind, k, step in d["timers"]]
    life._seq = d["seq"]
    life.flips = {(k[0], k[1], k[2]): deque(v, maxlen=n) for k, n, v in d["flips"]}
    life.extra_delay = {(k[0], k[1], k[2]): v for k, v in d["extra_delay"]}
    life.raises = {site: deque(v) for site, v in d["raises"].items()}
    life.incidents = {(site, building): alarm_id for site, building, alarm_id in d["incidents"]}
    life.stamps = {(k[0], k[1], k[2]): ms for k, ms in d.get("stamps", [])}


def _plain(value: Any) -> Any:
    """Evidence may carry numpy scalars; msgpack takes their Python values."""
    if isinstance(value, np.generic):
        return value.item()
    raise NotImplementedError(f"cannot store {type(value).__name__} in a snapshot")


def dump(engine: Engine) -> bytes:
    columns = engine.core.columns()
    snap = Snapshot(
        format=FORMAT,
        shape=engine.shape,
        declaration=declaration(columns),
        columns=[
            Column(name, v.dtype.str, list(v.shape), np.ascontiguousarray(v).tobytes())
            for name, v in sorted(columns.items())
        ],
        started=engine.core.started,
        windows=[(k[0], k[1], v.maxlen, list(v)) for k, v in engine.core.windows.items()],
        clock=engine.clock,
        lifecycle=_lifecycle(engine.lifecycle),
    )
    return msgspec.msgpack.encode(snap, enc_hook=_plain)


def load(engine: Engine, blob: bytes | memoryview) -> tuple[bool, list[str]]:
    """Restore into `engine`: (whether per-device state was restored, the columns that start fresh).

    Raises ValueError for a file that is neither this format nor an earlier pickle."""
    if bytes(blob[:1]) == b"\x80":
        return _load_pickle(engine, blob)
    try:
        snap = msgspec.msgpack.decode(blob, type=Snapshot)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a rule-state snapshot: {exc}") from exc
    if snap.format != FORMAT:
        raise ValueError(f"rule-state snapshot format {snap.format}, this gateway reads {FORMAT}")
    _relifecycle(engine.lifecycle, snap.lifecycle)
    engine.clock = snap.clock
    if snap.shape != engine.shape:
        return False, []
    current = engine.core.columns()
    renamed = engine.core.renamed()
    arrays = {}
    for c in snap.columns:
        want = current.get(c.name)
        if want is None and c.name in renamed:
            want = current[renamed[c.name][0]][0]
        if want is not None and want.dtype.str == c.dtype and list(want.shape) == c.shape:
            arrays[c.name] = np.frombuffer(c.data, dtype=np.dtype(c.dtype)).reshape(c.shape).copy()
    windows = {(a, b): deque(v, maxlen=n) for a, b, n, v in snap.windows}
    engine.core.restore(arrays, snap.started, windows)
    return True, sorted(set(current) - set(arrays) - {renamed[k][0] for k in arrays if k in renamed})


def _load_pickle(engine: Engine, blob: bytes | memoryview) -> tuple[bool, list[str]]:
    """A snapshot an earlier version wrote (pickled, format 1): read once; the next snapshot is msgpack."""
    state = pickle.loads(blob)  # the gateway's own file, written by its previous version
    if state.get("version") != PICKLE_VERSION:
        raise ValueError(f"pickled rule-state snapshot version {state.get('version')}")
    same = state.get("shape") == engine.shape
    if same:
        engine.core.restore(state["columns"], state["started"], state["windows"])
    for name, value in state["lifecycle"].items():
        setattr(engine.lifecycle, name, value)
    engine.clock = state["clock"]
    renamed = engine.core.renamed()
    saved = set(state["columns"]) | {renamed[k][0] for k in state["columns"] if k in renamed}
    fresh = sorted(set(engine.core.columns()) - saved) if same else []
    return bool(same), fresh
