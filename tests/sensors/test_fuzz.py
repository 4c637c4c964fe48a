"""Hostile input, generated: whatever arrives, the decoders, the line-protocol encoder and the registry
loader answer with a result or a reasoned refusal, never an unhandled exception.

Structure-aware: valid messages and registries are mutated (a byte flipped, cut, spliced; a field given a
value of another type), which reaches far deeper than random bytes. hypothesis, not atheris: the decoders
are msgspec and PyYAML (C, fuzzed upstream) under Python glue; coverage-guided fuzzing of that glue found
nothing hypothesis does not reach in a fraction of the set-up (docs/security.md).
"""

from __future__ import annotations

import math
import re

import msgspec
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import ProtocolError
from gateway.influx.lineprotocol import PointEncoder
from gateway.mqtt import codec
from sensors import Decoder, RawMessage, Reason, RegistryError, compile_index, parse_registry
from simulators import estate

REGISTRY = estate.small_estate(site="t1", buildings=1, units=1, households_per_unit=3)
INDEX = compile_index([parse_registry(estate.dump(REGISTRY))])
DECODER = Decoder(INDEX)
ENCODER = PointEncoder(INDEX)
NOW = 1_800_000_000.0
NOW_US = 1_800_000_000_000_000  # receive times are integer microseconds
SENSOR = "guardian/t1/sensor/s-00001"
DOOR = "guardian/t1/door/d-b1-u1"

VALID: list[tuple[str, bytes]] = [
    (
        f"{SENSOR}/telemetry",
        b'{"seq": 1, "ts": 1800000000.5, "co_ppm": 3.5, "gas_lel": 0.0, "battery_pct": 80}',
    ),
    (f"{SENSOR}/event", b'{"seq": 2, "ts": 1800000001, "event": "alarm_co"}'),
    (f"{SENSOR}/status", b'{"online": true}'),
    (
        f"{DOOR}/event",
        b'{"seq": 3, "event": "access_granted", "person": "p-00001", "method": "face", "direction": "in"}',
    ),
    ("guardian/t1/sensor/_batch/telemetry", b'{"readings": [{"device": "s-00002", "seq": 4, "co_ppm": 1}]}'),
]

# A line: measurement and tags (escaped commas, spaces, equals), one space, fields, one space, an integer time.
LINE = re.compile(
    rb"^(?:[^ ,\\\n]|\\.)+(?:,(?:[^ ,=\\\n]|\\.)+=(?:[^ ,=\\\n]|\\.)+)* "
    rb'(?:[a-z_]+=(?:-?[0-9.e+-]+i?|true|false|"(?:[^"\\\n]|\\.)*"))(?:,[a-z_]+=(?:-?[0-9.e+-]+i?|true|false|"(?:[^"\\\n]|\\.)*"))* '
    rb"-?[0-9]+$"
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    topic, payload = draw(st.sampled_from(VALID))
    data = bytearray(payload)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "insert":
            data[at:at] = draw(
                st.sampled_from(
                    [
                        b"\\",
                        b'"',
                        b",",
                        b" ",
                        b"=",
                        b"\n",
                        b"NaN",
                        b"1e999",
                        b"-",
                        b"\xff",
                        b"\\u0000",
                        b"{}",
                        b"[]",
                        b"null",
                    ]
                )
            )
        else:
            data[at:at] = draw(st.sampled_from(VALID))[1][: draw(st.integers(0, 40))]
    if draw(st.booleans()):
        topic = draw(
            st.sampled_from(
                [
                    topic,
                    topic.replace("s-00001", "s-00002"),
                    topic + "/x",
                    topic.upper(),
                    topic.replace("/t1/", "/t2/"),
                    "guardian/t1/sensor/s 1/telemetry",
                    "",
                    "/",
                    "guardian/t1/door/d-b1-u1/telemetry",
                ]
            )
        )
    return topic, bytes(data)


@st.composite
def json_mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid message with one field's value replaced by any JSON value (types, ranges, strings)."""
    topic, payload = draw(st.sampled_from(VALID[:4]))
    body = msgspec.json.decode(payload)
    value = draw(
        st.one_of(
            st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=80),
            st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        )
    )  # fmt: skip
    key = draw(st.sampled_from([*body, "device", "extra"]))
    body[key] = value
    try:
        encoded = msgspec.json.encode(body)
    except (OverflowError, msgspec.EncodeError):  # a value JSON cannot carry is a device's problem, not ours
        encoded = repr(body).encode()
    return topic, encoded


def check(messages: list[tuple[str, bytes]]) -> None:
    rows = [RawMessage(i + 1, NOW_US, t, p) for i, (t, p) in enumerate(messages)]
    batch = DECODER.decode(rows)
    single = sum(1 for t, _ in messages if "/_batch/" not in t)
    assert batch.accepted + len(batch.rejections) >= single
    for r in batch.rejections:
        assert isinstance(r.reason, Reason) and r.detail and len(r.payload) <= 1024
    for column in (batch.readings.co_ppm, batch.readings.gas_lel, batch.readings.battery_pct):
        assert not any(math.isinf(v) for v in column.tolist())
    for line in ENCODER.encode(batch).lines:
        assert LINE.match(line), line  # parses as one point: nothing injected a tag, field or line


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=8))
def test_mutated_messages_are_decoded_or_refused_and_encode_to_clean_lines(messages) -> None:  # type: ignore[no-untyped-def]
    check(messages)


@settings(max_examples=600)
@given(st.lists(json_mutated(), min_size=1, max_size=4))
def test_any_json_value_in_any_field_is_decoded_or_refused(messages) -> None:  # type: ignore[no-untyped-def]
    check(messages)


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_door_pseudonyms_never_break_a_line(person: str) -> None:
    body = msgspec.json.encode({"seq": 1, "event": "access_denied", "person": person})
    check([(f"{DOOR}/event", body)])


def _paths(node, path=()):  # type: ignore[no-untyped-def]
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


PATHS = list(_paths(REGISTRY))[1:]


@settings(max_examples=400)
@given(
    st.sampled_from(PATHS),
    st.one_of(
        st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(), st.text(max_size=30),
        st.lists(st.text(max_size=5), max_size=2), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    ),
)  # fmt: skip
def test_registry_with_any_field_changed_loads_or_names_the_problem(path, value) -> None:  # type: ignore[no-untyped-def]
    import copy

    registry = copy.deepcopy(REGISTRY)
    node = registry
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    text = yaml.safe_dump(registry, allow_unicode=True)
    try:
        parse_registry(text, "fuzz.yaml")
    except RegistryError as exc:
        assert exc.problems and all(p.startswith("fuzz.yaml") for p in exc.problems), exc.problems


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_registry_text_of_any_shape_loads_or_names_the_problem(text: str) -> None:
    try:
        parse_registry(text, "fuzz.yaml")
    except RegistryError as exc:
        assert exc.problems and all(p.startswith("fuzz.yaml") for p in exc.problems), exc.problems


@settings(max_examples=600)
@given(st.lists(st.binary(max_size=64), max_size=6), st.binary(max_size=200))
def test_mqtt_stream_decoder_refuses_garbage_with_a_protocol_error(chunks, prefix) -> None:  # type: ignore[no-untyped-def]
    """Bytes from the socket: whole packets come out, the rest waits, garbage is a ProtocolError (which
    closes the connection); never another exception."""
    decoder = codec.StreamDecoder(max_packet=4096)
    publish = codec.encode_publish("guardian/t1/sensor/s-00001/telemetry", b"{}", qos=1, packet_id=7)
    try:
        for chunk in [prefix, *chunks, publish]:
            decoder.feed(chunk)
    except (ProtocolError, UnicodeDecodeError):
        pass
