"""Duplicate JSON keys: `{"seq": 1, "co_ppm": 1.5, "co_ppm": 900}` is refused, never read as 900.

RFC 8259 leaves duplicate names undefined and parsers differ (msgspec and Python keep the last, some keep
the first): a message that means two things to two readers is refused with `duplicate_key`. The check is
cheap because the wire structs forbid unknown fields: an accepted message's keys are its fields, so the
quote marks in the payload must be exactly two per key and per string value. Only a payload whose count is
off (a `null`, an escaped quote, a duplicate) is parsed again, with Python's json and a hook that sees
every name.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import msgspec.inspect
import msgspec.structs


class _Duplicate(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise _Duplicate(name)
        out[name] = value
    return out


_LAYOUT: dict[type, tuple[tuple[int, ...], tuple[int, ...]]] = {}


def _layout(cls: type) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Which of a struct's fields hold a string, and which nested structs or lists of them (cached)."""
    found = _LAYOUT.get(cls)
    if found is None:
        strings, nested = [], []
        for i, f in enumerate(msgspec.inspect.type_info(cls).fields):  # type: ignore[attr-defined]
            kinds = f.type.types if isinstance(f.type, msgspec.inspect.UnionType) else (f.type,)
            for k in kinds:
                if isinstance(k, msgspec.inspect.StrType | msgspec.inspect.LiteralType):
                    strings.append(i)
                elif isinstance(k, msgspec.inspect.ListType | msgspec.inspect.StructType):
                    nested.append(i)
        found = _LAYOUT[cls] = (tuple(strings), tuple(nested))
    return found


def _quoted(obj: Any) -> int:
    """Quoted tokens a decoded struct accounts for: each field that is set (its key), each string value."""
    values = msgspec.structs.astuple(obj)
    strings, nested = _layout(type(obj))
    n = len(values) - values.count(None)
    for i in strings:
        n += values[i] is not None
    for i in nested:
        v = values[i]
        n += sum(map(_quoted, v)) if isinstance(v, list) else _quoted(v) if v is not None else 0
    return n


def duplicate_key(payload: bytes, decoded: msgspec.Struct) -> str | None:
    """The first name that appears twice in one JSON object of `payload`, or None."""
    if payload.count(b'"') == 2 * _quoted(decoded):
        return None
    try:
        json.loads(payload, object_pairs_hook=_pairs)
    except _Duplicate as dup:
        return str(dup)
    except ValueError:
        return None  # msgspec read it; a disagreement on anything else is not this check's to judge
    return None
