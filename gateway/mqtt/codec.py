"""MQTT 5 packet encoding and incremental decoding, without I/O.

Only the packets a gateway needs are spoken: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH (QoS 0 and 1),
PUBACK, PINGREQ/PINGRESP and DISCONNECT. The decoder is written for throughput: it walks one receive
buffer holding many packets and hands back PUBLISH packets as plain tuples, because per-message objects
are where generic clients spend their time (docs/benchmarks.md).
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
) -> bytes:
    flags = 0x02 if clean_start else 0
    props = (
        bytes((PROP_SESSION_EXPIRY,))
        + _U32.pack(session_expiry)
        + bytes((PROP_RECEIVE_MAXIMUM,))
        + _U16.pack(receive_maximum)
    )
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += encode_varint(0) + _string(will.topic) + _binary(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
    if password is not None:
        flags |= 0x40
        payload += _binary(password.encode())
    body = _string("MQTT") + bytes((5, flags)) + _U16.pack(keepalive) + encode_varint(len(props)) + props
    return _packet(CONNECT, body + payload)


def encode_subscribe(packet_id: int, filters: list[tuple[str, int]]) -> bytes:
    body = _U16.pack(packet_id) + encode_varint(0)
    for topic_filter, qos in filters:
        body += _string(topic_filter) + bytes((qos | 0x10,))  # retain handling 1: only on a new subscription
    return _packet(SUBSCRIBE | 0x02, body)


def encode_publish(
    topic: str, payload: bytes, *, qos: int, packet_id: int = 0, retain: bool = False
) -> bytes:
    first = PUBLISH | (qos << 1) | (1 if retain else 0)
    body = _string(topic) + (_U16.pack(packet_id) if qos else b"") + b"\x00" + payload
    return _packet(first, body)


_PUBACKS = [b"\x40\x02" + _U16.pack(i) for i in range(65536)]


def encode_pubacks(packet_ids: list[int]) -> bytes:
    """PUBACKs with reason 'success' (v5 lets it be omitted), concatenated for one write."""
    return b"".join([_PUBACKS[i] for i in packet_ids])


def parse_connack(body: bytes) -> tuple[bool, int, str]:
    """(session present, reason code, reason string)."""
    if len(body) < 2:
        raise ProtocolError("short CONNACK")
    reason = ""
    props = _properties(body, 2)
    if PROP_REASON_STRING in props:
        reason = props[PROP_REASON_STRING]
    return bool(body[0] & 1), body[1], reason


def parse_suback(body: bytes) -> tuple[int, bytes]:
    packet_id = _U16.unpack_from(body, 0)[0]
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

    `feed` returns everything complete so far and keeps the tail for the next call.
    """

    __slots__ = ("_buf", "max_packet")

    def __init__(self, max_packet: int = 1 << 20) -> None:
        self._buf = bytearray()
        self.max_packet = max_packet

    def feed(self, data: bytes) -> tuple[list[Publish], list[ControlPacket]]:
        buf = self._buf
        buf += data
        publishes: list[Publish] = []
        controls: list[ControlPacket] = []
        pos = 0
        n = len(buf)
        mv = memoryview(buf)
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
