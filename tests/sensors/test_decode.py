from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensors import Decoder, RawMessage, Reason, compile_index, parse_registry
from simulators import estate

REG = parse_registry(estate.dump(estate.small_estate(site="t1", buildings=1, units=1, households_per_unit=3)))
DECODER = Decoder(compile_index([REG]))
TOPIC = "guardian/t1/sensor/s-00001/telemetry"
NOW = 1_800_000_000.0
NOW_US = 1_800_000_000_000_000  # receive times are integer microseconds

finite = st.floats(allow_nan=False, allow_infinity=False)
telemetry = st.fixed_dictionaries(
    {"seq": st.integers(0, 2**40)},
    optional={
        "ts": st.floats(NOW - 200, NOW + 200),
        "co_ppm": st.floats(0, 100_000),
        "gas_lel": st.floats(0, 100),
        "battery_pct": st.floats(0, 100),
        "temp_c": st.floats(-60, 150),
    },
)


@given(telemetry)
def test_valid_telemetry_is_accepted_with_its_values(body):
    batch = DECODER.decode([RawMessage(1, NOW_US, TOPIC, msgspec.json.encode(body))])
    if "co_ppm" not in body and "gas_lel" not in body:
        assert [r.reason for r in batch.rejections] == [Reason.NO_MEASUREMENT]
        return
    assert batch.rejections == []
    r = batch.readings
    assert len(r) == 1 and r.seq[0] == body["seq"] and r.ts[0] == body.get("ts", NOW)
    for field in ("co_ppm", "gas_lel", "battery_pct", "temp_c"):
        value = getattr(r, field)[0]
        assert (math.isnan(value) and field not in body) or value == body.get(field)


@given(
    st.binary(max_size=600),
    st.sampled_from([TOPIC, "guardian/t1/door/d-b1-u1/event", "x/y", "guardian/t1/sensor/_batch/telemetry"]),
)
def test_arbitrary_bytes_never_raise_and_every_refusal_has_a_reason(payload, topic):
    batch = DECODER.decode([RawMessage(1, NOW_US, topic, payload)])
    assert batch.accepted + len(batch.rejections) >= 1
    assert all(isinstance(r.reason, Reason) and r.detail for r in batch.rejections)


@given(
    st.dictionaries(
        st.sampled_from(["seq", "ts", "co_ppm", "gas_lel", "device", "x"]),
        st.one_of(finite, st.text(max_size=5), st.none(), st.booleans()),
    )
)
def test_arbitrary_json_objects_are_accepted_or_refused_never_crash(body):
    batch = DECODER.decode([RawMessage(1, NOW_US, TOPIC, msgspec.json.encode(body))])
    assert batch.accepted + len(batch.rejections) == 1
    for value in (batch.readings.co_ppm, batch.readings.gas_lel):
        assert not any(math.isinf(v) for v in value)


@pytest.mark.parametrize("offset", [3600.0, -2 * 86400.0])
def test_device_time_ahead_or_beyond_the_backfill_window_is_replaced_by_receive_time(offset):
    """A clock an hour in the future, or two days behind (past the 24 h backfill), is a wrong clock."""
    body = msgspec.json.encode({"seq": 1, "ts": NOW + offset, "co_ppm": 1})
    batch = DECODER.decode([RawMessage(1, NOW_US, TOPIC, body)])
    assert batch.readings.ts[0] == NOW and batch.skewed == 1 and batch.late == 0


def test_a_buffered_reading_keeps_its_own_time_and_is_counted_late():
    """A detector uploading what it kept through an hour's outage: its readings are filed when they were
    taken, so the history shows when the gas was there."""
    body = msgspec.json.encode({"seq": 1, "ts": NOW - 3600, "co_ppm": 1})
    batch = DECODER.decode([RawMessage(1, NOW_US, TOPIC, body)])
    assert batch.readings.ts[0] == NOW - 3600 and batch.skewed == 0 and batch.late == 1


def test_concentrator_batch_rejects_only_the_bad_reading():
    body = msgspec.json.encode(
        {
            "readings": [
                {"device": "s-00001", "seq": 1, "co_ppm": 1},
                {"device": "nope", "seq": 1, "co_ppm": 1},
            ]
        }
    )
    batch = DECODER.decode([RawMessage(5, NOW_US, "guardian/t1/sensor/_batch/telemetry", body)])
    assert len(batch.readings) == 1
    assert [(r.reason, r.item) for r in batch.rejections] == [(Reason.UNKNOWN_DEVICE, 1)]


def test_duplicate_keys_are_refused_whatever_the_spacing_or_nesting() -> None:
    import msgspec

    from sensors import wire
    from sensors.duplicate_keys import duplicate_key

    one = msgspec.json.Decoder(wire.Telemetry)
    batch = msgspec.json.Decoder(wire.TelemetryBatch)
    door = msgspec.json.Decoder(wire.DoorEvent)
    for payload, decoder, twice in [
        (b'{"seq":1,"co_ppm":1.5,"co_ppm":900}', one, "co_ppm"),
        (b'{ "seq" : 1 , "co_ppm" :1.5, "co_ppm" : 900 }', one, "co_ppm"),
        (b'{"seq":1,"co_ppm":1.5,"seq":2}', one, "seq"),
        (b'{"seq":1,"co_ppm":1.5,"ts":null}', one, None),
        (b'{"seq":1,"co_ppm":1.5,"device":"s-1"}', one, None),
        (
            b'{"readings":[{"seq":1,"device":"a","co_ppm":1},{"seq":2,"device":"b","gas_lel":1,"gas_lel":9}]}',
            batch,
            "gas_lel",
        ),
        (
            b'{"readings":[{"seq":1,"device":"a","co_ppm":1}],"readings":[{"seq":2,"device":"a","co_ppm":1}]}',
            batch,
            "readings",
        ),
        (b'{"seq":1,"event":"access_granted","person":"p1","method":"face","person":"p2"}', door, "person"),
        (b'{"seq":1,"event":"access_granted","person":"p1","method":"face","direction":"in"}', door, None),
    ]:
        assert duplicate_key(payload, decoder.decode(payload)) == twice, payload
