from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.mqtt import SessionOptions, codec

topics = st.text(st.characters(codec="utf-8", exclude_characters="\x00#+"), min_size=1, max_size=80)


@given(
    st.lists(
        st.tuples(topics, st.binary(max_size=300), st.integers(0, 1), st.integers(1, 65535)), max_size=30
    ),
    st.lists(st.integers(1, 50), max_size=200),
)
def test_publishes_survive_any_split_of_the_stream(packets, cuts):
    stream = b"".join(
        codec.encode_publish(t, p, qos=q, packet_id=i) for t, p, q, i in packets
    ) + codec.encode_pubacks([7])
    decoder = codec.StreamDecoder()
    got: list[codec.Publish] = []
    controls: list[codec.ControlPacket] = []
    pos = 0
    for cut in cuts:
        pubs, ctrls = decoder.feed(stream[pos : pos + cut])
        got += pubs
        controls += ctrls
        pos += cut
    pubs, ctrls = decoder.feed(stream[pos:])
    got += pubs
    controls += ctrls
    assert [(p.topic, p.payload, p.qos, p.packet_id if p.qos else 0) for p in got] == [
        (t, p, q, i if q else 0) for t, p, q, i in packets
    ]
    assert controls == [codec.ControlPacket(kind=codec.PUBACK, flags=0, body=b"\x00\x07")]


@given(st.integers(0, 268_435_455))
def test_varint_round_trip(n):
    raw = codec.encode_varint(n)
    assert codec._read_varint(raw, 0) == (n, len(raw))


def test_connect_carries_session_expiry_and_receive_maximum():
    packet = codec.encode_connect(
        client_id="gw", keepalive=30, clean_start=False, session_expiry=86400, receive_maximum=4096
    )
    assert packet[0] == codec.CONNECT
    assert b"\x11\x00\x01\x51\x80" in packet  # session expiry 86400
    assert b"\x21\x10\x00" in packet  # receive maximum 4096
    flags = packet[packet.index(b"MQTT") + 5]
    assert flags & 0x02 == 0, "no clean start: the broker keeps our session"


@given(
    st.lists(
        st.tuples(topics, st.binary(max_size=300), st.integers(0, 1), st.integers(1, 65535)), max_size=30
    ),
    st.lists(st.integers(1, 50), max_size=200),
)
def test_311_publishes_survive_any_split_of_the_stream(packets, cuts):
    stream = b"".join(codec.encode_publish(t, p, qos=q, packet_id=i, protocol=4) for t, p, q, i in packets)
    decoder = codec.StreamDecoder(protocol=4)
    got: list[codec.Publish] = []
    pos = 0
    for cut in [*cuts, len(stream)]:
        got += decoder.feed(stream[pos : pos + cut])[0]
        pos += cut
    assert [(p.topic, p.payload, p.qos, p.packet_id if p.qos else 0) for p in got] == [
        (t, p, q, i if q else 0) for t, p, q, i in packets
    ]


def test_311_connect_has_level_4_and_no_properties():
    packet = codec.encode_connect(
        client_id="gw",
        keepalive=30,
        clean_start=False,
        session_expiry=86400,
        receive_maximum=4096,
        username="u",
        password="p",
        protocol=4,
    )
    # fixed header, "MQTT", level 4, flags (user, password; clean session 0), keepalive, then the payload
    assert packet == b"\x10\x14\x00\x04MQTT\x04\xc0\x00\x1e\x00\x02gw\x00\x01u\x00\x01p"


def test_311_subscribe_and_acks_carry_no_properties():
    assert codec.encode_subscribe(1, [("a/b/c", 1)], protocol=4) == b"\x82\x0a\x00\x01\x00\x05a/b/c\x01"
    assert codec.parse_suback(b"\x00\x01\x01\x80", protocol=4) == (1, b"\x01\x80")
    assert codec.parse_connack(b"\x01\x00", protocol=4) == (True, 0, "")
    assert codec.parse_connack(b"\x00\x04", protocol=4) == (False, 4, "bad user name or password")


def test_only_levels_4_and_5_are_spoken():
    with pytest.raises(ValueError, match="protocol level 3"):
        SessionOptions(host="127.0.0.1", port=1883, client_id="gw", protocol=3)
    with pytest.raises(ValueError, match="protocol level 6"):
        codec.StreamDecoder(protocol=6)
