"""The compact lookups the compiled registry is made of."""

from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st

from sensors.compact import Groups, NameIndex

names = st.lists(st.text(min_size=1, max_size=6), max_size=40)


@given(names, st.text(min_size=1, max_size=6))
def test_name_index_finds_every_position_of_a_name_and_nothing_else(values: list[str], probe: str) -> None:
    index = pickle.loads(pickle.dumps(NameIndex(tuple(values))))  # rebuilt: str hashes are per process
    for name in {*values, probe}:
        assert sorted(index.find(name)) == [i for i, v in enumerate(values) if v == name]


@given(st.lists(st.lists(st.integers(0, 10**6), max_size=5), max_size=30))
def test_groups_keep_each_groups_members_in_order(groups: list[list[int]]) -> None:
    g = Groups(groups)
    assert len(g) == len(groups)
    assert list(g) == groups
    assert g.sizes().tolist() == [len(x) for x in groups]
    assert g.owners().tolist() == [i for i, x in enumerate(groups) for _ in x]
