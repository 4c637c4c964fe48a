"""MQTT 5 and MQTT 3.1.1 packet encoding and incremental decoding, without I/O.

Only the packets a gateway needs are spoken: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH (QoS 0 and 1),
PUBACK, PINGREQ/PINGRESP and DISCONNECT. MQTT 5 (protocol level 5) is the default; level 4 (3.1.1) is
for brokers that speak nothing newer, NATS among them. The two differ, for these packets, only in 5's
properties (and 5's reason codes in CONNACK): every encoder and parser that touches them takes `protocol`.

The decoder is written for throughput: it walks one receive buffer holding many packets and hands back
PUBLISH packets as plain tuples, because per-message objects are where generic clients spend their time
(docs/benchmarks.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

from gateway.errors import ProtocolError

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x80
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

PROP_SESSION_EXPIRY = 0x11
PROP_RECEIVE_MAXIMUM = 0x21
PROP_MAXIMUM_PACKET_SIZE = 0x27
PROP_REASON_STRING = 0x1F

MQTT5 = 5
MQTT311 = 4
PROTOCOLS = (MQTT311, MQTT5)

# CONNACK return codes of MQTT 3.1.1 (it has no reason string to say more).
CONNACK_311 = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
# The MQTT 5 CONNACK reason codes a gateway meets, so a refusal says what it is without the spec at hand.
CONNACK_5 = {
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8C: "bad authentication method",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x9F: "connection rate exceeded",
}

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


class Publish(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    packet_id: int
    retain: bool
    dup: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlPacket:
    """Any packet other than PUBLISH: its type and the bytes after the fixed header."""

    kind: int
    flags: int
    body: bytes


def encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string(s: str) -> bytes:
    raw = s.encode()
    return _U16.pack(len(raw)) + raw


def _binary(b: bytes) -> bytes:
    return _U16.pack(len(b)) + b


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + encode_varint(len(body)) + body


def _check_protocol(protocol: int) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"MQTT protocol level {protocol}: this client speaks 4 (3.1.1) or 5")


def encode_connect(
    *,
    client_id: str,
    keepalive: int,
    clean_start: bool,
    session_expiry: int,
    receive_maximum: int,
    username: str | None = None,
    password: str | None = None,
    will: Will | None = None,
    protocol: int = MQTT5,
) -> bytes:
    """CONNECT. Bit 1 of the flags is 5's Clean Start and 3.1.1's Clean Session: unset, the broker keeps the
    session. 3.1.1 has no properties, so `session_expiry` and `receive_maximum` are not sent at level 4:
    such a session lives until a clean connect ends it, and the broker alone decides how many
    unacknowledged messages it has in flight to us (NATS: `mqtt { max_ack_pending }`)."""
    _check_protocol(protocol)
    v5 = protocol == MQTT5
    flags = 0x02 if clean_start else 0
    props = b""
    if v5:
        props = (
            bytes((PROP_SESSION_EXPIRY,))
            + _U32.pack(session_expiry)
            + bytes((PROP_RECEIVE_MAXIMUM,))
            + _U16.pack(receive_maximum)
        )
        props = encode_varint(len(props)) + props
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += (encode_varint(0) if v5 else b"") + _string(will.topic) + _binary(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
    if password is not None:
        flags |= 0x40
        payload += _binary(password.encode())
    body = _string("MQTT") + bytes((protocol, flags)) + _U16.pack(keepalive) + props
    return _packet(CONNECT, body + payload)


def encode_subscribe(packet_id: int, filters: list[tuple[str, int]], *, protocol: int = MQTT5) -> bytes:
    """SUBSCRIBE. At level 5 with retain handling 1 (retained messages only for a new subscription); 3.1.1
    has no such option (the bits are reserved, and a broker closes the connection on them), so a
    resubscription there may bring retained messages again."""
    _check_protocol(protocol)
    if protocol == MQTT5:
        body = _U16.pack(packet_id) + encode_varint(0)
        for topic_filter, qos in filters:
            body += _string(topic_filter) + bytes((qos | 0x10,))
    else:
        body = _U16.pack(packet_id)
        for topic_filter, qos in filters:
            body += _string(topic_filter) + bytes((qos,))
    return _packet(SUBSCRIBE | 0x02, body)


def encode_publish(
    topic: str, payload: bytes, *, qos: int, packet_id: int = 0, retain: bool = False, protocol: int = MQTT5
) -> bytes:
    first = PUBLISH | (qos << 1) | (1 if retain else 0)
    props = b"\x00" if protocol == MQTT5 else b""  # 3.1.1: no property length at all
    body = _string(topic) + (_U16.pack(packet_id) if qos else b"") + props + payload
    return _packet(first, body)


_PUBACKS = [b"\x40\x02" + _U16.pack(i) for i in range(65536)]


def encode_pubacks(packet_ids: list[int]) -> bytes:
    """PUBACKs with reason 'success', concatenated for one write. v5 lets the reason be omitted, which makes
    the packet the same bytes as 3.1.1's PUBACK: one encoding serves both protocols."""
    return b"".join([_PUBACKS[i] for i in packet_ids])


def parse_connack(body: bytes, *, protocol: int = MQTT5) -> tuple[bool, int, str]:
    """(session present, reason code, reason string). At level 4 the code is 3.1.1's return code (0-5) and
    the string is its meaning, since 3.1.1 carries no reason string."""
    if len(body) < 2:
        raise ProtocolError("short CONNACK")
    code = body[1]
    if protocol == MQTT311:
        return bool(body[0] & 1), code, CONNACK_311.get(code, "") if code else ""
    props = _properties(body, 2)
    reason = props.get(PROP_REASON_STRING) or (CONNACK_5.get(code, "") if code else "")
    return bool(body[0] & 1), code, reason


def parse_suback(body: bytes, *, protocol: int = MQTT5) -> tuple[int, bytes]:
    """(packet id, one code per filter): 0-2 the QoS granted, 0x80 and above a refusal, in both protocols."""
    packet_id = _U16.unpack_from(body, 0)[0]
    if protocol == MQTT311:
        return packet_id, body[2:]
    length, pos = _read_varint(body, 2)
    return packet_id, body[pos + length :]


def parse_puback(body: bytes) -> tuple[int, int]:
    packet_id = _U16.unpack_from(body, 0)[0]
    return packet_id, body[2] if len(body) > 2 else 0


def _read_varint(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise IndexError
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ProtocolError("variable byte integer longer than 4 bytes")


def _properties(body: bytes, pos: int) -> dict[int, str]:
    """The few properties this client reads; others are skipped by their declared length."""
    if pos >= len(body):
        return {}
    length, pos = _read_varint(body, pos)
    end = pos + length
    found: dict[int, str] = {}
    while pos < end:
        ident = body[pos]
        pos += 1
        if ident == PROP_REASON_STRING:
            n = _U16.unpack_from(body, pos)[0]
            found[ident] = body[pos + 2 : pos + 2 + n].decode(errors="replace")
            pos += 2 + n
        elif ident in (0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A):
            pos += 1
        elif ident in (0x13, 0x21, 0x22, 0x23):
            pos += 2
        elif ident in (0x02, 0x11, 0x18, 0x27):
            pos += 4
        elif ident == 0x0B:
            _, pos = _read_varint(body, pos)
        elif ident == 0x26:
            for _ in range(2):
                n = _U16.unpack_from(body, pos)[0]
                pos += 2 + n
        else:
            n = _U16.unpack_from(body, pos)[0]
            pos += 2 + n
    return found


class StreamDecoder:
    """Splits a byte stream into packets; PUBLISH packets come out as `Publish` tuples.

    `feed` returns everything complete so far and keeps the tail for the next call. A 3.1.1 PUBLISH has no
    property length between packet id and payload, so the decoder is told the protocol of its connection.
    """

    __slots__ = ("_buf", "max_packet", "properties")

    def __init__(self, max_packet: int = 1 << 20, protocol: int = MQTT5) -> None:
        _check_protocol(protocol)
        self._buf = bytearray()
        self.max_packet = max_packet
        self.properties = protocol == MQTT5

    def feed(self, data: bytes) -> tuple[list[Publish], list[ControlPacket]]:
        buf = self._buf
        buf += data
        publishes: list[Publish] = []
        controls: list[ControlPacket] = []
        pos = 0
        n = len(buf)
        mv = memoryview(buf)
        properties = self.properties
        try:
            while pos + 2 <= n:
                first = buf[pos]
                # Remaining length: one byte in the common case, up to four.
                b = buf[pos + 1]
                if b < 0x80:
                    length = b
                    start = pos + 2
                else:
                    try:
                        length, start = _read_varint(buf, pos + 1)
                    except IndexError:
                        break
                if length > self.max_packet:
                    raise ProtocolError(f"packet of {length} bytes exceeds the {self.max_packet} limit")
                end = start + length
                if end > n:
                    break
                kind = first & 0xF0
                if kind == PUBLISH:
                    try:
                        qos = (first >> 1) & 3
                        tlen = (buf[start] << 8) | buf[start + 1]
                        p = start + 2 + tlen
                        topic = str(mv[start + 2 : p], "utf-8")
                        if qos:
                            packet_id = (buf[p] << 8) | buf[p + 1]
                            p += 2
                        else:
                            packet_id = 0
                        if properties:
                            plen = buf[p]
                            if plen < 0x80:
                                p += 1 + plen
                            else:
                                plen, p = _read_varint(buf, p)
                                p += plen
                        if p > end:
                            raise ProtocolError("PUBLISH header runs past the end of its packet")
                        publishes.append(
                            Publish(topic, bytes(mv[p:end]), qos, packet_id, bool(first & 1), bool(first & 8))
                        )
                    except IndexError as exc:
                        raise ProtocolError("PUBLISH shorter than its own header") from exc
                else:
                    controls.append(ControlPacket(kind=kind, flags=first & 0x0F, body=bytes(mv[start:end])))
                pos = end
        finally:
            mv.release()
            if pos:
                del buf[:pos]
        return publishes, controls
