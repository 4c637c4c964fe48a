"""A persistent MQTT 5 (or 3.1.1) session on asyncio, with acknowledgement left to the caller.

Why not aiomqtt or paho: both acknowledge a QoS 1 message when the callback returns, before the reading is
stored (docs/reliability.md), and both build an object and take locks per message. Here the receive
buffer is parsed in one pass, messages are handed over in lists, and the caller sends the PUBACKs of a whole
spool commit in one write (`ack`). The broker can only have `receive_maximum` unacknowledged messages in
flight to us, so the hand-off between socket and spool is bounded by the protocol itself.

MQTT 3.1.1 (`SessionOptions.protocol = 4`) is for brokers that speak nothing newer: NATS, which a district
deployment runs as a cluster. It has no properties, so what MQTT 5 negotiates is set elsewhere: the session
is kept by Clean Session 0 until a clean connect ends it (no session expiry); the bound on messages in
flight to us is the broker's own setting (NATS `mqtt { max_ack_pending }`, Mosquitto
`max_inflight_messages`), not our Receive Maximum; our publishes are bounded by `publish_window` alone, as
they are at level 5; and the keepalive is ours, with no Server Keep Alive to override it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from gateway.errors import ConnectRefusedError, ProtocolError
from gateway.mqtt import codec
from gateway.mqtt.codec import ControlPacket, Publish, Will

log = logging.getLogger(__name__)

_CHUNK = 256  # publishes per socket write in publish_many

Deliver = Callable[[list[Publish], int], None]
"""Receives the PUBLISH packets of one socket read and the connection generation they arrived on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOptions:
    host: str
    port: int
    client_id: str
    subscriptions: Sequence[tuple[str, int]] = ()
    username: str | None = None
    password: str | None = None
    keepalive: int = 30
    clean_start: bool = False
    session_expiry: int = 7 * 86400
    receive_maximum: int = 4096
    publish_window: int = 1024
    tls: ssl.SSLContext | None = None
    will: Will | None = None
    connect_timeout: float = 10.0
    backoff_initial: float = 0.2
    backoff_max: float = 15.0
    max_packet: int = 1 << 20
    protocol: int = codec.MQTT5
    """MQTT protocol level: 5, or 4 (3.1.1) for a broker that speaks nothing newer (NATS)."""

    def __post_init__(self) -> None:
        if self.protocol not in codec.PROTOCOLS:
            raise ValueError(f"MQTT protocol level {self.protocol}: 4 (3.1.1) or 5")


def refusal(protocol: int, code: int, text: str) -> ConnectRefusedError:
    """The error for a CONNACK that refused us, worded for a log or a health page: the code as the broker
    sent it, and what it means (the broker's reason string at level 5, the spec's meaning at level 4)."""
    what = f"CONNACK return code {code}" if protocol == codec.MQTT311 else f"CONNACK reason 0x{code:02x}"
    return ConnectRefusedError(f"broker refused the connection: {what} ({text or 'no reason given'})")


class _Protocol(asyncio.Protocol):
    def __init__(self, session: MqttSession, generation: int) -> None:
        self.session = session
        self.generation = generation
        self.decoder = codec.StreamDecoder(session.options.max_packet, session.options.protocol)
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            publishes, controls = self.decoder.feed(data)
        except (ProtocolError, UnicodeDecodeError, IndexError) as exc:
            log.error("MQTT protocol error from broker, closing connection: %s", exc)
            if self.transport is not None:
                self.transport.abort()
            return
        session = self.session
        session.last_received_packet = asyncio.get_running_loop().time()
        if publishes:
            session._deliver(publishes, self.generation)
        for packet in controls:
            session._control(packet)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


@dataclass(slots=True)
class _Outgoing:
    free_ids: list[int] = field(default_factory=lambda: list(range(65535, 0, -1)))
    waiting: dict[int, asyncio.Future[int]] = field(default_factory=dict)


class MqttSession:
    """Keeps one session connected for as long as `run()` runs; reconnects with capped, jittered backoff."""

    def __init__(self, options: SessionOptions, deliver: Deliver | None = None) -> None:
        self.options = options
        self._deliver_cb = deliver
        self._protocol: _Protocol | None = None
        self._generation = 0
        self._connack: asyncio.Future[tuple[bool, int, str]] | None = None
        self._suback: asyncio.Future[bytes] | None = None
        self._out = _Outgoing()
        self._window = asyncio.Semaphore(options.publish_window)
        self._connected = asyncio.Event()
        self.last_received_packet = 0.0
        self.reconnects = 0
        self.session_present = False
        self.last_error: str | None = None

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def generation(self) -> int:
        return self._generation

    async def wait_connected(self) -> None:
        await self._connected.wait()

    # -- receiving -----------------------------------------------------------------------------------------
    def _deliver(self, publishes: list[Publish], generation: int) -> None:
        if self._deliver_cb is not None:
            self._deliver_cb(publishes, generation)
        else:
            self.ack([p.packet_id for p in publishes if p.qos == 1], generation)

    def ack(self, packet_ids: list[int], generation: int) -> bool:
        """Send PUBACKs; ids from an earlier connection are dropped (the broker redelivers them)."""
        proto = self._protocol
        if proto is None or proto.generation != generation or proto.transport is None:
            return False
        if packet_ids:
            proto.transport.write(codec.encode_pubacks(packet_ids))
        return True

    def _control(self, packet: ControlPacket) -> None:
        kind = packet.kind
        protocol = self.options.protocol
        if kind == codec.PUBACK:
            packet_id, _reason = codec.parse_puback(packet.body)
            fut = self._out.waiting.pop(packet_id, None)
            if fut is not None:
                self._out.free_ids.append(packet_id)
                if not fut.done():
                    fut.set_result(_reason)
        elif kind == codec.CONNACK and self._connack is not None and not self._connack.done():
            self._connack.set_result(codec.parse_connack(packet.body, protocol=protocol))
        elif kind == codec.SUBACK and self._suback is not None and not self._suback.done():
            self._suback.set_result(codec.parse_suback(packet.body, protocol=protocol)[1])
        elif kind == codec.DISCONNECT:
            reason = packet.body[0] if packet.body else 0
            log.warning("broker sent DISCONNECT (reason 0x%02x)", reason)

    # -- publishing ----------------------------------------------------------------------------------------
    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and, for QoS 1, wait for the broker's PUBACK. Raises ConnectionError if the link drops."""
        fut = await self.publish_nowait(topic, payload, qos=qos, retain=retain)
        if fut is not None:
            reason = await fut
            if reason >= 0x80:
                raise ConnectRefusedError(f"broker refused publish to {topic!r}: reason 0x{reason:02x}")

    async def publish_nowait(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[int] | None:
        """Queue a publish; returns the PUBACK future (QoS 1) once the message is written."""
        await self._connected.wait()
        proto = self._protocol
        assert proto is not None and proto.transport is not None
        protocol = self.options.protocol
        if qos == 0:
            proto.transport.write(
                codec.encode_publish(topic, payload, qos=0, retain=retain, protocol=protocol)
            )
            return None
        packet_id, fut = await self._in_flight()
        proto.transport.write(
            codec.encode_publish(
                topic, payload, qos=qos, packet_id=packet_id, retain=retain, protocol=protocol
            )
        )
        return fut

    async def publish_many(self, messages: Iterable[tuple[str, bytes]]) -> list[asyncio.Future[int]]:
        """QoS 1 publishes, written a chunk at a time: a load generator's path. One write per message is a
        syscall per message, and made `make bench`'s publisher the costliest process on the machine."""
        await self._connected.wait()
        proto = self._protocol
        assert proto is not None and proto.transport is not None
        protocol = self.options.protocol
        futures: list[asyncio.Future[int]] = []
        chunk: list[bytes] = []
        for topic, payload in messages:
            if self._window.locked() or len(chunk) >= _CHUNK:  # a full window waits for what is unwritten
                proto.transport.write(b"".join(chunk))
                chunk.clear()
            packet_id, fut = await self._in_flight()
            futures.append(fut)
            chunk.append(codec.encode_publish(topic, payload, qos=1, packet_id=packet_id, protocol=protocol))
        if chunk:
            proto.transport.write(b"".join(chunk))
        return futures

    async def _in_flight(self) -> tuple[int, asyncio.Future[int]]:
        """A place in the publish window: a packet id and the future its PUBACK completes."""
        await self._window.acquire()
        packet_id = self._out.free_ids.pop()
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda _f: self._window.release())
        self._out.waiting[packet_id] = fut
        return packet_id, fut

    # -- connection ----------------------------------------------------------------------------------------
    async def run(self, deliver: Deliver | None = None) -> None:
        """Connect, stay connected, reconnect; returns only by cancellation. `deliver` takes each batch of
        PUBLISHes received (unacknowledged: the consumer acks them with `ack`, after it has kept them);
        without one, QoS 1 messages are acknowledged as they arrive."""
        if deliver is not None:
            self._deliver_cb = deliver
        backoff = self.options.backoff_initial
        while True:
            try:
                await self._connect_once()
                backoff = self.options.backoff_initial
            except (OSError, TimeoutError, ProtocolError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("MQTT connection to %s:%d failed: %s", self.options.host, self.options.port, exc)
            finally:
                self._drop_connection()
            self.reconnects += 1
            delay = random.uniform(backoff / 2, backoff)
            backoff = min(backoff * 2, self.options.backoff_max)
            await asyncio.sleep(delay)

    async def _connect_once(self) -> None:
        opts = self.options
        loop = asyncio.get_running_loop()
        self._generation += 1
        generation = self._generation
        async with asyncio.timeout(opts.connect_timeout):
            _transport, proto = await loop.create_connection(
                lambda: _Protocol(self, generation), opts.host, opts.port, ssl=opts.tls
            )
            self._protocol = proto
            self._connack = loop.create_future()
            assert proto.transport is not None
            proto.transport.write(
                codec.encode_connect(
                    client_id=opts.client_id,
                    keepalive=opts.keepalive,
                    clean_start=opts.clean_start,
                    session_expiry=opts.session_expiry,
                    receive_maximum=opts.receive_maximum,
                    username=opts.username,
                    password=opts.password,
                    will=opts.will,
                    protocol=opts.protocol,
                )
            )
            session_present, reason, text = await self._connack
            if reason != 0:
                raise refusal(opts.protocol, reason, text)
            self.session_present = session_present
            if opts.subscriptions:
                # Resubscribing is harmless on a resumed session; retain handling 1 in the codec keeps the
                # broker from resending retained status messages for a subscription that already exists.
                self._suback = loop.create_future()
                proto.transport.write(
                    codec.encode_subscribe(1, list(opts.subscriptions), protocol=opts.protocol)
                )
                codes = await self._suback
                if any(c >= 0x80 for c in codes):
                    raise ConnectRefusedError(f"subscription refused: {list(codes)}")
        self.last_error = None
        self._connected.set()
        log.info(
            "MQTT connected to %s:%d as %s (session present: %s)",
            opts.host,
            opts.port,
            opts.client_id,
            session_present,
        )
        async with asyncio.TaskGroup() as tg:
            pinger = tg.create_task(self._keepalive(proto), name="mqtt-keepalive")
            await proto.closed
            pinger.cancel()
        log.warning("MQTT connection to %s:%d lost", opts.host, opts.port)

    async def _keepalive(self, proto: _Protocol) -> None:
        interval = max(1.0, self.options.keepalive / 2)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            if proto.transport is None or proto.transport.is_closing():
                return
            if loop.time() - self.last_received_packet > self.options.keepalive * 1.5:
                log.warning(
                    "no packet from the broker for %.0f s; reconnecting", self.options.keepalive * 1.5
                )
                proto.transport.abort()
                return
            proto.transport.write(codec.PINGREQ_PACKET)

    def _drop_connection(self) -> None:
        self._connected.clear()
        proto, self._protocol = self._protocol, None
        if proto is not None and proto.transport is not None:
            proto.transport.abort()
        # Unacknowledged publishes of ours are lost with a clean session; tell the waiters.
        waiting, self._out.waiting = self._out.waiting, {}
        for packet_id, fut in waiting.items():
            self._out.free_ids.append(packet_id)
            if not fut.done():
                fut.set_exception(ConnectionError("MQTT connection lost before PUBACK"))

    async def disconnect(self) -> None:
        """Polite close; the session stays on the broker (session expiry; at level 4 until a clean connect)
        for the next connect."""
        proto = self._protocol
        if proto is not None and proto.transport is not None and not proto.transport.is_closing():
            proto.transport.write(codec.DISCONNECT_PACKET)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await proto.closed


async def probe_connect(
    host: str,
    port: int,
    *,
    client_id: str,
    username: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    protocol: int = codec.MQTT5,
) -> int:
    """One CONNECT and its CONNACK reason code (0 accepted; at level 4 the 3.1.1 return code); the connection
    is closed at once.

    For `guardian check-config --probe` (does the broker take anonymous clients?) and for the tests of
    what the broker refuses.
    """
    async with asyncio.timeout(5.0):
        reader, writer = await asyncio.open_connection(host, port, ssl=tls)
        try:
            writer.write(
                codec.encode_connect(
                    client_id=client_id,
                    keepalive=30,
                    clean_start=True,
                    session_expiry=0,
                    receive_maximum=16,
                    username=username,
                    password=password,
                    protocol=protocol,
                )
            )
            decoder = codec.StreamDecoder(protocol=protocol)
            while True:
                data = await reader.read(4096)
                if not data:
                    raise ConnectionError("broker closed the connection before CONNACK")
                for packet in decoder.feed(data)[1]:
                    if packet.kind == codec.CONNACK:
                        return codec.parse_connack(packet.body, protocol=protocol)[1]
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
