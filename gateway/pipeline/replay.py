"""`guardian replay`: recorded messages through the live decode -> rules -> lifecycle code, in event time.

The clock is the largest event time seen. Messages are grouped into batches spanning at most `window`
seconds of event time, so a silence or a held-for timer falls due between the right two messages even when
hours of history are replayed in a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from alerts.engine import Engine
from alerts.settings import SettingsError
from alerts.signals import Acknowledgement, Transition
from alerts.site import compile_site_model
from gateway.config.registry_file import load_registries
from gateway.errors import ConfigError
from sensors.columns import RawMessage
from sensors.decode import DecodeLimits, Decoder
from sensors.index import compile_index
from sensors.registry import SiteRegistry


class Line(msgspec.Struct):
    topic: str = ""
    payload: msgspec.Raw = msgspec.Raw(b"null")  # kept as the recorded bytes: decoded once, by the Decoder
    ack: dict[str, Any] | None = None
    """A recorded acknowledgement instead of a message:
    {"ts", "by", "alarm_id"} or {"ts", "by", "rule", "subject"}."""


class _Times(msgspec.Struct):
    ts: float | None = None
    readings: list[_Times] | None = None


_times = msgspec.json.Decoder(_Times)


def event_time(payload: bytes) -> float | None:
    """The latest device time in a payload, if any (a concentrator batch carries several)."""
    try:
        t = _times.decode(payload)
    except msgspec.DecodeError:
        return None
    times = [r.ts for r in t.readings or () if r.ts is not None]
    if t.ts is not None:
        times.append(t.ts)
    finite = [x for x in times if math.isfinite(x)]
    return max(finite) if finite else None


def build_engine(
    registry: Path | Sequence[SiteRegistry], overrides: dict[str, dict[str, Any]] | None = None
) -> tuple[Engine, Decoder]:
    """An engine and decoder for replay: from registry files, or registries already parsed (a simulator's)."""
    registries = load_registries(registry) if isinstance(registry, Path) else list(registry)
    index = compile_index(registries)
    try:
        model = compile_site_model(registries, index, overrides)
    except SettingsError as exc:
        raise ConfigError(f"{registry if isinstance(registry, Path) else 'registry'}: {exc}") from exc
    return Engine(model), Decoder(index, DecodeLimits(max_skew=math.inf))


def replay(
    engine: Engine,
    decoder: Decoder,
    lines: Iterable[bytes],
    *,
    until: float | None = None,
    window: float = 1.0,
    emit: Callable[[Transition], None],
) -> int:
    """Feed JSONL lines through the engine; returns the number of messages replayed."""
    batch: list[RawMessage] = []
    batch_start = -math.inf
    clock = -math.inf
    count = 0

    def flush(*, advance: bool) -> None:
        """Rules over the batch; the clock moves on only where no later batch start will move it
        (before an acknowledgement, at the end): advancing twice per batch doubles the cost of a
        sparse replay and changes nothing, as no input falls between the two."""
        nonlocal batch
        if batch:
            for t in engine.process(decoder.decode(batch)):
                emit(t)
            batch = []
        if advance and clock > -math.inf:
            for t in engine.advance(clock):
                emit(t)

    for number, item in _parse(lines):
        if item.ack is not None:
            flush(advance=True)
            ack = msgspec.convert(item.ack, Acknowledgement)
            clock = max(clock, ack.ts)
            for t in engine.advance(ack.ts):
                emit(t)
            for t in engine.acknowledge(ack):
                emit(t)
            continue
        payload = bytes(item.payload)
        ts = event_time(payload)
        if ts is not None and ts > batch_start + window:
            flush(advance=False)
            batch_start = ts
            for t in engine.advance(ts):  # deadlines that fell due in the gap fire before these messages
                emit(t)
        if ts is not None:
            clock = max(clock, ts)
        recv = round(clock * 1e6) if clock > -math.inf else 0
        batch.append(RawMessage(number, recv, item.topic, payload))
        count += 1
    flush(advance=True)
    if until is not None and until > clock:
        clock = until
        flush(advance=True)
    return count


def _parse(lines: Iterable[bytes]) -> Iterator[tuple[int, Line]]:
    decoder = msgspec.json.Decoder(Line)
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            yield number, decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise ConfigError(f"line {number}: not a replay line ({exc})") from exc
