"""YAML to plain data straight from libyaml's parse events, for registries of a district.

`yaml.load` first composes the whole document into node objects, each scalar with two position marks, and
only then builds dicts and lists from them. For a 17 MB registry (100,000 households) that took 32 s and
peaked at 1.2 GB, nearly all of it the node tree. Built from the events, the data is all that is ever held:
the same file loads in a few seconds within the data's own size.

The result is what `yaml.load(text, Loader=SafeLoader)` returns: plain scalars are resolved and constructed
by PyYAML's own safe resolver and constructor (ints, floats, booleans, nulls, dates), quoted ones are
strings, anchors and aliases and `<<` merge keys work (a later merged mapping over an earlier one, as in
PyYAML). Errors are PyYAML's, with their line marks.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml import events
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"


class _Scalars:
    """Plain scalars resolved and constructed once per distinct text: a registry repeats its keys and most
    of its values (`kind: co_gas`) hundreds of thousands of times, and equal strings then share one object."""

    def __init__(self) -> None:
        self._resolver: Any = Resolver()  # untyped in the stubs
        self._constructor = SafeConstructor()
        self._plain: dict[str, Any] = {}
        self._quoted: dict[str, str] = {}

    def value(self, ev: events.ScalarEvent) -> Any:
        text: str = ev.value
        if ev.tag not in (None, "!"):
            return self._construct(ev.tag, text, ev)
        if not ev.implicit[0]:  # quoted: always a string
            return self._quoted.setdefault(text, text)
        try:
            return self._plain[text]
        except KeyError:
            tag = self._resolver.resolve(ScalarNode, text, (True, False))
            value = self._plain[text] = _MERGE_KEY if tag == _MERGE else self._construct(tag, text, ev)
            return value

    def _construct(self, tag: str, text: str, ev: events.ScalarEvent) -> Any:
        build = SafeConstructor.yaml_constructors.get(tag)
        if build is None or tag == _MERGE:
            raise ConstructorError(
                None, None, f"could not determine a constructor for the tag {tag!r}", _mark(ev)
            )
        return build(self._constructor, ScalarNode(tag, text, _mark(ev), _mark(ev, end=True)))


class _MergeKey:
    """The `<<` key: the mapping (or list of mappings) under it fills in keys the mapping does not set."""


_MERGE_KEY = _MergeKey()


class _Mapping:
    __slots__ = ("data", "key", "merges")

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.key: Any = _NO_KEY
        self.merges: list[dict[Any, Any]] = []


_NO_KEY = object()


def load(text: str) -> Any:
    """One YAML document as plain data (None when empty), as `yaml.safe_load` returns it."""
    scalars = _Scalars()
    anchors: dict[str, Any] = {}
    stack: list[_Mapping | list[Any]] = []
    documents = 0
    root: Any = None

    def add(value: Any, ev: events.Event) -> None:
        nonlocal root
        top = stack[-1] if stack else None
        if value is _MERGE_KEY and not (isinstance(top, _Mapping) and top.key is _NO_KEY):
            raise ConstructorError(
                None, None, "found a merge key (<<) that is not a mapping's key", _mark(ev)
            )
        if not stack:
            root = value
            return
        top = stack[-1]
        if isinstance(top, list):
            top.append(value)
        elif top.key is _NO_KEY:
            try:
                hash(value)
            except TypeError:
                raise ConstructorError(
                    "while constructing a mapping", None, "found an unhashable key", _mark(ev)
                ) from None
            top.key = value
        else:
            if top.key is _MERGE_KEY:
                top.merges.extend(_merged(value, ev))
            else:
                top.data[top.key] = value
            top.key = _NO_KEY

    for ev in yaml.parse(text, Loader=LOADER):
        if isinstance(ev, events.ScalarEvent):
            value = scalars.value(ev)
            if ev.anchor is not None:
                anchors[ev.anchor] = value
            add(value, ev)
        elif isinstance(ev, events.MappingStartEvent):
            _check_tag(ev, "tag:yaml.org,2002:map")
            mapping = _Mapping()
            if ev.anchor is not None:
                anchors[ev.anchor] = mapping.data
            stack.append(mapping)
        elif isinstance(ev, events.SequenceStartEvent):
            _check_tag(ev, "tag:yaml.org,2002:seq")
            sequence: list[Any] = []
            if ev.anchor is not None:
                anchors[ev.anchor] = sequence
            stack.append(sequence)
        elif isinstance(ev, events.MappingEndEvent):
            done = stack.pop()
            assert isinstance(done, _Mapping)
            if done.merges:  # as PyYAML merges: a later mapping over an earlier one, own keys over all
                merged: dict[Any, Any] = {}
                for m in done.merges:
                    merged.update(m)
                for k, v in merged.items():
                    done.data.setdefault(k, v)
            add(done.data, ev)
        elif isinstance(ev, events.SequenceEndEvent):
            add(stack.pop(), ev)
        elif isinstance(ev, events.AliasEvent):
            if ev.anchor not in anchors:
                raise ComposerError(None, None, f"found undefined alias {ev.anchor!r}", _mark(ev))
            add(anchors[ev.anchor], ev)
        elif isinstance(ev, events.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise ComposerError(
                    "expected a single document in the stream",
                    None,
                    "but found another document",
                    _mark(ev),
                )
    return root


def _merged(value: Any, ev: events.Event) -> list[dict[Any, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return list(value)
    raise ConstructorError(
        "while constructing a mapping",
        None,
        "expected a mapping or list of mappings for merging",
        _mark(ev),
    )


def _check_tag(ev: events.CollectionStartEvent, expected: str) -> None:
    if ev.tag not in (None, "!", expected):
        raise ConstructorError(
            None, None, f"could not determine a constructor for the tag {ev.tag!r}", _mark(ev)
        )


def _mark(ev: events.Event, *, end: bool = False) -> Any:
    """Where an event is in the text (libyaml's marks and PyYAML's are different classes to the stubs)."""
    return ev.end_mark if end else ev.start_mark
