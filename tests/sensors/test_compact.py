"""The compact lookups the compiled registry is made of."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensors.compact import Coded, Groups, Names

names = st.lists(st.text(max_size=6), max_size=40)


@given(names, st.text(max_size=6))
def test_names_read_back_and_find_every_position_of_a_name_and_nothing_else(
    values: list[str], probe: str
) -> None:
    index = pickle.loads(pickle.dumps(Names(values)))  # rebuilt: str hashes are per process
    assert len(index) == len(values)
    assert list(index) == values
    assert [index[i] for i in range(len(values))] == values
    assert [index[-i] for i in range(1, len(values) + 1)] == values[::-1]
    for outside in (len(values), -len(values) - 1):
        with pytest.raises(IndexError):
            index[outside]
    assert index == values and index == Names(values)
    tags = [len(v) % 2 for v in values]
    for name in {*values, probe}:
        holding = [i for i, v in enumerate(values) if v == name]
        assert sorted(index.find(name)) == holding
        assert index.first(name) == (holding[0] if holding else None)
        for tag in (0, 1):
            tagged = [i for i in holding if tags[i] == tag]
            assert index.first(name, tags, tag) == (tagged[0] if tagged else None)


@given(st.lists(st.integers(-1, 3), max_size=30))
def test_coded_reads_each_code_as_its_value_and_a_negative_one_as_empty(codes: list[int]) -> None:
    values = ("a", "b", "c", "d")
    column = Coded(values, np.asarray(codes, dtype=np.int32))
    expected = [values[c] if c >= 0 else "" for c in codes]
    assert list(column) == expected
    assert [column[i] for i in range(len(codes))] == expected
    assert column == tuple(expected)


@given(st.lists(st.lists(st.integers(0, 10**6), max_size=5), max_size=30))
def test_groups_keep_each_groups_members_in_order(groups: list[list[int]]) -> None:
    g = Groups(groups)
    assert len(g) == len(groups)
    assert list(g) == groups
    assert g.sizes().tolist() == [len(x) for x in groups]
    assert g.owners().tolist() == [i for i, x in enumerate(groups) for _ in x]
