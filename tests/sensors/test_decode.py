from __future__ import annotations

import math

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from sensors import Decoder, RawMessage, Reason, compile_index, parse_registry
from simulators import estate

REG = parse_registry(estate.dump(estate.small_estate(site="t1", buildings=1, units=1, households_per_unit=3)))
DECODER = Decoder(compile_index([REG]))
TOPIC = "guardian/t1/sensor/s-00001/telemetry"
NOW = 1_800_000_000.0

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
    batch = DECODER.decode([RawMessage(1, NOW, TOPIC, msgspec.json.encode(body))])
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
    batch = DECODER.decode([RawMessage(1, NOW, topic, payload)])
    assert batch.accepted + len(batch.rejections) >= 1
    assert all(isinstance(r.reason, Reason) and r.detail for r in batch.rejections)


@given(
    st.dictionaries(
        st.sampled_from(["seq", "ts", "co_ppm", "gas_lel", "device", "x"]),
        st.one_of(finite, st.text(max_size=5), st.none(), st.booleans()),
    )
)
def test_arbitrary_json_objects_are_accepted_or_refused_never_crash(body):
    batch = DECODER.decode([RawMessage(1, NOW, TOPIC, msgspec.json.encode(body))])
    assert batch.accepted + len(batch.rejections) == 1
    for value in (batch.readings.co_ppm, batch.readings.gas_lel):
        assert not any(math.isinf(v) for v in value)


def test_device_time_outside_skew_is_replaced_by_receive_time_and_counted():
    body = msgspec.json.encode({"seq": 1, "ts": NOW - 3600, "co_ppm": 1})
    batch = DECODER.decode([RawMessage(1, NOW, TOPIC, body)])
    assert batch.readings.ts[0] == NOW and batch.skewed == 1


def test_concentrator_batch_rejects_only_the_bad_reading():
    body = msgspec.json.encode(
        {
            "readings": [
                {"device": "s-00001", "seq": 1, "co_ppm": 1},
                {"device": "nope", "seq": 1, "co_ppm": 1},
            ]
        }
    )
    batch = DECODER.decode([RawMessage(5, NOW, "guardian/t1/sensor/_batch/telemetry", body)])
    assert len(batch.readings) == 1
    assert [(r.reason, r.item) for r in batch.rejections] == [(Reason.UNKNOWN_DEVICE, 1)]
