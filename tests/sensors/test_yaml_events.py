"""The event-built YAML loader returns what PyYAML's safe loader returns, and fails where it fails."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sensors import yaml_events

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False)
    | st.dates(dt.date(1900, 1, 1), dt.date(2200, 1, 1))
    | st.text(max_size=12)
    | st.sampled_from(
        ["yes", "no", "on", "~", "0x1f", "1_000", "1e3", "2025-01-10", "<<", "null", "", ".inf"]
    )
)
data = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(data, st.booleans())
def test_any_dumped_document_loads_as_the_safe_loader_loads_it(value: Any, flow: bool) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True)
    assert yaml_events.load(text) == yaml.safe_load(text)


def test_plain_scalars_anchors_aliases_and_merge_keys() -> None:
    text = """
defaults: &d {kind: co_gas, power: mains, installed: 2025-01-10}
extra: &e {power: battery, floor: 3}
sensors:
  - {<<: *d, id: s-1}
  - {<<: [*e, *d], id: s-2, kind: co}
  - &third {id: s-3, lives_alone: yes, n: 0x10, x: 1_000.5, none: ~, text: "2025-01-10"}
  - *third
empty:
"""
    assert yaml_events.load(text) == yaml.safe_load(text)
    loaded = yaml_events.load(text)
    assert loaded["sensors"][1] == {
        "power": "mains",
        "floor": 3,
        "kind": "co",
        "installed": dt.date(2025, 1, 10),
        "id": "s-2",
    }
    assert loaded["sensors"][2]["text"] == "2025-01-10" and loaded["empty"] is None
    assert yaml_events.load("") is None and yaml_events.load("# nothing\n") is None


@pytest.mark.parametrize(
    "text",
    [
        "a: [1, 2",  # unclosed flow sequence
        "a: *nowhere",  # undefined alias
        "a: 1\n---\nb: 2\n",  # two documents
        "a: !!python/object:os.system x",  # unsafe tag
        "? [1, 2]\n: x\n",  # unhashable key
        "a: <<\n",  # a merge key as a value
        "a: {<<: 1}\n",  # merging a scalar
        "a:\n  b: 1\n c: 2\n",  # bad indentation
    ],
)
def test_bad_documents_raise_yaml_errors_with_a_line(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as err:
        yaml_events.load(text)
    assert getattr(err.value, "problem_mark", None) is not None
