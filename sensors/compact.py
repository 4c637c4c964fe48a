"""Lookups over hundreds of thousands of entries in a few bytes each, for the compiled registry.

A district's registry compiles to ~100k devices, ~100k households and ~200k people. A str costs ~50 bytes
before its text, a dict entry ~60, a tuple of small tuples ~80; these cost 4-25 bytes an entry, and the
gateway holds them for its whole life (issue 2's budget is 400 bytes of state per device, all of it
included).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise
from typing import Any, SupportsIndex, overload

import numpy as np
import numpy.typing as npt


class _Strings(Sequence[str]):
    """A read-only sequence of str kept in some compact form: subclasses say how to read entry `i`."""

    __slots__ = ()

    def _at(self, i: int) -> str:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: SupportsIndex) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: SupportsIndex | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self._at(j) for j in range(*i.indices(len(self)))]
        at = i.__index__()
        at = at + len(self) if at < 0 else at
        if not 0 <= at < len(self):
            raise IndexError(i)
        return self._at(at)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class Names(_Strings):
    """Many short names (device, household and person ids) as one str with offsets, found through an
    open-addressing table of positions: ~25 bytes a name where a str and a dict entry cost ~120. A lookup
    costs ~0.3 µs (a dict's 0.05), a name read back ~0.1 µs. Registry ids are ASCII, so the text is one
    byte a character.

    Names may repeat (a pseudonym in two sites); `find` yields every position holding the name, `first` the
    first whose tag matches. Python's str hash is salted per process, so the table is rebuilt on unpickle."""

    __slots__ = ("_mask", "_offsets", "_omv", "_table", "_text", "_tmv")

    def __init__(self, names: Iterable[str]) -> None:
        listed = list(names)
        ends = np.cumsum([len(n) for n in listed], dtype=np.int64)
        if len(ends) and ends[-1] >= 2**32:
            raise ValueError("names over 4 G characters")
        offsets = np.zeros(len(listed) + 1, dtype=np.uint32)
        offsets[1:] = ends
        self._setup("".join(listed), offsets)

    def _setup(self, text: str, offsets: npt.NDArray[np.uint32]) -> None:
        self._text = text
        self._offsets = offsets
        self._omv = offsets.data
        n = len(offsets) - 1
        size = 1 << max(3, (2 * n).bit_length())  # at most half full: a miss probes ~2.5 slots
        self._mask = size - 1
        table = array("i", [-1]) * size
        mask = self._mask
        for i, name in enumerate(self):
            slot = hash(name) & mask
            while table[slot] >= 0:
                slot = (slot + 1) & mask
            table[slot] = i
        self._table = table
        self._tmv = memoryview(table)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_names, (self._text, self._offsets))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _at(self, i: int) -> str:
        o = self._omv
        return self._text[o[i] : o[i + 1]]

    def __iter__(self) -> Iterator[str]:
        text, o = self._text, self._offsets.tolist()
        return (text[a:b] for a, b in pairwise(o))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Names):
            return self._text == other._text and bool(np.array_equal(self._offsets, other._offsets))
        return super().__eq__(other)

    __hash__ = None

    def __repr__(self) -> str:
        return f"Names({len(self)} names)"

    def find(self, name: str) -> Iterator[int]:
        text, o, table, mask = self._text, self._omv, self._tmv, self._mask
        slot = hash(name) & mask
        while (i := table[slot]) >= 0:
            if text[o[i] : o[i + 1]] == name:
                yield i
            slot = (slot + 1) & mask

    def first(self, name: str, tags: Sequence[int] | None = None, tag: int = 0) -> int | None:
        """The first position holding `name` (and, with `tags`, whose tag is `tag`): the hot path's lookup,
        written out because a generator costs more than the search."""
        text, o, table, mask = self._text, self._omv, self._tmv, self._mask
        slot = hash(name) & mask
        while (i := table[slot]) >= 0:
            if text[o[i] : o[i + 1]] == name and (tags is None or tags[i] == tag):
                return i
            slot = (slot + 1) & mask
        return None

    def spans(self) -> tuple[str, memoryview]:
        """The text and the offsets, for a hot loop reading names as `text[o[i] : o[i + 1]]` (0.1 µs less
        than `names[i]`)."""
        return self._text, self._omv

    def nbytes(self) -> int:
        return len(self._text) + self._offsets.nbytes + len(self._table) * 4


def _names(text: str, offsets: npt.NDArray[np.uint32]) -> Names:
    names = Names.__new__(Names)
    names._setup(text, offsets)
    return names


class Coded(_Strings):
    """A str column with few distinct values (each device's site, building, grid, unit; its household) as
    codes into those values; a negative code reads as "". Columns can share one code array: a device's unit
    fixes its site, building and grid, so four columns cost 4 bytes a device where four tuples cost 32."""

    __slots__ = ("codes", "values")

    def __init__(self, values: Sequence[str], codes: npt.NDArray[np.int32]) -> None:
        self.values = values
        self.codes = codes

    def __len__(self) -> int:
        return len(self.codes)

    def _at(self, i: int) -> str:
        code = int(self.codes[i])
        return self.values[code] if code >= 0 else ""

    def __iter__(self) -> Iterator[str]:
        values = list(self.values)
        return (values[c] if c >= 0 else "" for c in self.codes.tolist())


class Groups:
    """Members of each group (people of a household, detectors of a home) as one flat array and offsets:
    12 bytes a member where a tuple of tuples costs ~80."""

    __slots__ = ("members", "offsets")

    def __init__(self, groups: Iterable[Iterable[int]]) -> None:
        sizes: list[int] = []
        flat: list[int] = []
        for g in groups:
            before = len(flat)
            flat.extend(g)
            sizes.append(len(flat) - before)
        self.offsets: npt.NDArray[np.int64] = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.offsets[1:])
        self.members: npt.NDArray[np.int32] = np.asarray(flat, dtype=np.int32)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, group: int) -> list[int]:
        members: list[int] = self.members[self.offsets[group] : self.offsets[group + 1]].tolist()
        return members

    def __iter__(self) -> Iterator[list[int]]:
        return (self[g] for g in range(len(self)))

    def sizes(self) -> npt.NDArray[np.int64]:
        return np.diff(self.offsets)

    def owners(self) -> npt.NDArray[np.int64]:
        """The group of each entry in `members`."""
        return np.repeat(np.arange(len(self)), self.sizes())
