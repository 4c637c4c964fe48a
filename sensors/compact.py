"""Lookups over hundreds of thousands of entries in a few bytes each, for the compiled registry.

A district's registry compiles to ~100k devices, ~100k households and ~200k people. Python dicts keyed by
tuples, and tuples of small tuples, cost 60-130 bytes an entry; these cost 4-12, and the gateway holds them
for its whole life (issue 2's budget is 400 bytes of state per device, all of it included).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


class NameIndex:
    """Positions of names in a tuple, found by hash: sorted 64-bit hashes and the order that sorts them.

    Names may repeat (a pseudonym in two sites); `find` yields every position holding the name. Python's
    str hash is salted per process, so the hashes are rebuilt, never pickled."""

    __slots__ = ("_hashes", "_order", "names")

    def __init__(self, names: Sequence[str]) -> None:
        self.names = names
        hashes = np.fromiter((hash(n) for n in names), dtype=np.int64, count=len(names))
        order = np.argsort(hashes, kind="stable")
        self._order: npt.NDArray[np.int32] = order.astype(np.int32)
        self._hashes: npt.NDArray[np.int64] = hashes[order]

    def __reduce__(self) -> tuple[Any, ...]:
        return (NameIndex, (self.names,))

    def __len__(self) -> int:
        return len(self.names)

    def find(self, name: str) -> Iterator[int]:
        h = hash(name)
        hashes = self._hashes
        i = int(np.searchsorted(hashes, h))
        while i < len(hashes) and hashes[i] == h:
            at = int(self._order[i])
            if self.names[at] == name:
                yield at
            i += 1


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
