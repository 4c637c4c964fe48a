from __future__ import annotations

import re

import msgspec
import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.influx.lineprotocol import (
    DeviceTags,
    PointEncoder,
    device_tags,
    escape_tag,
    field_string,
    series_key,
)
from sensors import Decoder, RawMessage, compile_index, parse_registry
from simulators import estate

REG = parse_registry(estate.dump(estate.small_estate(site="t1", buildings=1, units=1, households_per_unit=2)))
INDEX = compile_index([REG])


def split_unescaped(text: str, sep: str) -> list[str]:
    """Split on separators not preceded by a backslash (line protocol's own rule)."""
    return re.split(rf"(?<!\\){re.escape(sep)}", text)


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@given(st.lists(st.tuples(st.text(min_size=1, max_size=10), st.text(max_size=20)), max_size=5))
@example([("0", "\\"), ("0", "\\")])  # a trailing backslash once swallowed the next separator
@example([("k", "a\\,b"), ("\\", "v")])
def test_series_key_tags_parse_back(tags):
    tags = [
        (k.replace("\n", "").replace("\r", "") or "k", v.replace("\n", "").replace("\r", "")) for k, v in tags
    ]
    key = series_key("m", tags)
    parts = split_unescaped(key, ",")
    assert parts[0] == "m"
    parsed = [tuple(unescape(x) for x in split_unescaped(p, "=")) for p in parts[1:]]
    expected = sorted((escape_tag(k), v) for k, v in tags if escape_tag(k) and escape_tag(v))
    assert len(parsed) == len(expected)
    assert all(len(p) == 2 and p[0] and p[1] for p in parsed), key  # every tag is key=value, none swallowed
    assert " " not in key.replace("\\ ", "")


@given(st.text(max_size=40))
def test_field_strings_escape_quotes_and_backslashes(value):
    encoded = field_string(value)
    assert encoded.startswith('"') and encoded.endswith('"')
    inner = encoded[1:-1]
    assert re.fullmatch(r'(?:[^"\\\n]|\\.)*', inner, flags=re.S)


@given(
    st.lists(st.tuples(st.integers(0, 10**9), st.floats(0, 1000), st.floats(0, 100)), min_size=1, max_size=20)
)
def test_readings_encode_to_well_formed_lines(rows):
    decoder = Decoder(INDEX)
    messages = [
        RawMessage(
            i + 1,
            (1_800_000_000 + i) * 1_000_000,
            "guardian/t1/sensor/s-00001/telemetry",
            f'{{"seq":{s},"co_ppm":{co!r},"gas_lel":{gas!r}}}'.encode(),
        )
        for i, (s, co, gas) in enumerate(rows)
    ]
    encoded = PointEncoder(INDEX).encode(decoder.decode(messages))
    assert len(encoded.lines) == len(rows)
    for line, (seq, co, gas) in zip(encoded.lines, rows, strict=True):
        key, fields, ts = line.decode().split(" ")
        assert key.startswith("sensor_reading,") and "device=s-00001" in key
        values = dict(f.split("=") for f in fields.split(","))
        assert (
            values["seq"] == f"{seq}i" and float(values["co_ppm"]) == co and float(values["gas_lel"]) == gas
        )
        assert "nan" not in fields.lower() and "inf" not in fields.lower()
        assert int(ts) > 0


def test_absent_values_are_left_out_not_written_as_nan():
    decoder = Decoder(INDEX)
    batch = decoder.decode(
        [
            RawMessage(
                1, 1_800_000_000_000_000, "guardian/t1/sensor/s-00001/telemetry", b'{"seq":1,"co_ppm":3}'
            )
        ]
    )
    line = PointEncoder(INDEX).encode(batch).lines[0].decode()
    assert "gas_lel" not in line and "co_ppm=3.0" in line
    assert np.isnan(batch.readings.gas_lel[0])


def test_tags_assembled_per_line_are_each_devices_sorted_series_key() -> None:
    """`DeviceTags` builds a device's tags from its unit's pieces; they must be what the general, sorted
    `series_key` makes of the device's place, for detectors and doors, with and without a grid."""
    with_grid = estate.small_estate(site="t1", buildings=2, units=2, households_per_unit=2)
    no_grid = {**estate.small_estate(site="t2", buildings=1, units=2, households_per_unit=1), "grids": []}
    index = compile_index([parse_registry(estate.dump(r)) for r in (with_grid, no_grid)])
    tags = DeviceTags(index)
    for i in range(len(index)):
        *place, (_, kind) = device_tags(index, i)
        assert tags[i] == series_key("", place)
        assert tags.kind(i) == kind
    assert any(index.is_door(i) for i in range(len(index))) and "" in index.grid


FIELDS = {"co_ppm": st.floats(0, 1000), "gas_lel": st.floats(0, 100), "battery_pct": st.floats(0, 100)}


@given(
    st.lists(
        st.fixed_dictionaries({}, optional={**FIELDS, "temp_c": st.floats(-40, 85)}).filter(
            lambda d: "co_ppm" in d or "gas_lel" in d
        ),
        min_size=1,
        max_size=12,
    )
)
def test_each_reading_carries_exactly_the_fields_it_sent(readings):
    """The usual reading (co, gas, battery) has its own fast line; every other mix builds its own."""
    messages = [
        RawMessage(
            i + 1,
            (1_800_000_000 + i) * 1_000_000,
            "guardian/t1/sensor/s-00001/telemetry",
            msgspec.json.encode({"seq": i, **r}),
        )
        for i, r in enumerate(readings)
    ]
    encoded = PointEncoder(INDEX).encode(Decoder(INDEX).decode(messages))
    for line, (i, sent) in zip(encoded.lines, enumerate(readings), strict=True):
        fields = dict(f.split("=") for f in line.decode().split(" ")[1].split(","))
        assert fields.pop("seq") == f"{i}i"
        assert {k: float(v) for k, v in fields.items()} == sent
