"""MQTT 3.1.1 (protocol level 4) against real brokers: NATS, which speaks nothing newer, and Mosquitto.

A district deployment runs a NATS cluster as its broker; these tests are what the client must do there:
QoS 1 both ways, a session kept by Clean Session 0 across an absence, and a refusal that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.errors import ConnectRefusedError
from gateway.mqtt import MqttSession, Publish, SessionOptions, probe_connect
from gateway.ops import services
from tests.support import ROOT

USERS = {"gateway": "gw-secret", "device": "dev-secret"}
TOPIC = "guardian/t1/sensor/s-00001/telemetry"


@pytest.fixture
def nats_client_port() -> int:
    return services.free_port()


@pytest.fixture
def nats(tmp_path: Path, nats_client_port: int) -> Iterator[services.ChildServer]:
    with services.nats_mqtt(tmp_path / "nats", client_port=nats_client_port, users=USERS) as server:
        yield server


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[services.ChildServer]:
    with services.mosquitto(tmp_path / "mosquitto") as server:
        yield server


class Inbox:
    """What a session received, acknowledged as it arrives (the gateway acks after its spool commit)."""

    def __init__(self) -> None:
        self.messages: list[Publish] = []
        self.arrived = asyncio.Event()
        self.session: MqttSession | None = None

    def deliver(self, publishes: list[Publish], generation: int) -> None:
        self.messages += publishes
        assert self.session is not None
        self.session.ack([p.packet_id for p in publishes if p.qos == 1], generation)
        self.arrived.set()

    async def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Publish]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.messages


@contextlib.asynccontextmanager
async def session(
    port: int, client_id: str, user: str | None = None, *, inbox: Inbox | None = None, **options: object
) -> AsyncIterator[MqttSession]:
    """A protocol-4 session, connected, closed politely (DISCONNECT) on the way out."""
    s = MqttSession(
        SessionOptions(
            host="127.0.0.1",
            port=port,
            client_id=client_id,
            username=user,
            password=USERS[user] if user else None,
            protocol=4,
            backoff_initial=0.05,
            **options,  # type: ignore[arg-type]
        ),
        inbox.deliver if inbox is not None else None,
    )
    if inbox is not None:
        inbox.session = s
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(s.run())
        async with asyncio.timeout(10):
            await s.wait_connected()
        try:
            yield s
        finally:
            await s.disconnect()
            runner.cancel()


async def test_nats_refuses_mqtt_5(nats: services.ChildServer) -> None:
    """Why level 4 exists: NATS answers an MQTT 5 CONNECT with 3.1.1's 'unacceptable protocol version'."""
    login = {"username": "device", "password": USERS["device"]}
    assert await probe_connect("127.0.0.1", nats.port, client_id="probe", protocol=5, **login) == 1
    assert await probe_connect("127.0.0.1", nats.port, client_id="probe", protocol=4, **login) == 0


async def test_nats_subscribe_publish_and_receive_at_qos1(nats: services.ChildServer) -> None:
    inbox = Inbox()
    async with session(
        nats.port, "gateway-1", "gateway", inbox=inbox, subscriptions=[("guardian/+/sensor/+/telemetry", 1)]
    ):
        async with session(nats.port, "s-00001", "device") as device:
            await device.publish(TOPIC, b'{"seq":1}', qos=1)  # returns on the broker's PUBACK
            await device.publish("a/b/c", b"not subscribed", qos=1)
        (got,) = await inbox.wait_for(1)
        assert (got.topic, got.payload, got.qos) == (TOPIC, b'{"seq":1}', 1)
        await asyncio.sleep(0.3)
        assert len(inbox.messages) == 1, "only what the filter matches"


async def test_nats_subscribers_see_mqtt_topics_as_subjects(
    nats: services.ChildServer, nats_client_port: int
) -> None:
    """MQTT topic a/b/c is NATS subject a.b.c: what a NATS-native service of the district subscribes to."""
    reader, writer = await asyncio.open_connection("127.0.0.1", nats_client_port)
    try:
        assert (await reader.readline()).startswith(b"INFO ")
        login = {"user": "gateway", "pass": USERS["gateway"], "verbose": False, "pedantic": False}
        writer.write(b"CONNECT " + json.dumps(login).encode() + b"\r\nSUB a.b.c 1\r\nPING\r\n")
        async with asyncio.timeout(10):
            assert await reader.readline() == b"PONG\r\n"
            async with session(nats.port, "s-00001", "device") as device:
                await device.publish("a/b/c", b"from mqtt", qos=1)
            line = await reader.readline()
            while line == b"PING\r\n":
                writer.write(b"PONG\r\n")
                line = await reader.readline()
            assert line.split()[:3] == [b"MSG", b"a.b.c", b"1"], line
            assert await reader.readline() == b"from mqtt\r\n"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_nats_persistent_session_keeps_qos1_messages_while_away(nats: services.ChildServer) -> None:
    async with session(nats.port, "gateway-1", "gateway", subscriptions=[(TOPIC, 1)]) as gw:
        assert not gw.session_present
    # The gateway is away: its subscription and what it matches are kept by the broker.
    async with session(nats.port, "s-00001", "device") as device:
        for seq in range(5):
            await device.publish(TOPIC, f'{{"seq":{seq}}}'.encode(), qos=1)
    inbox = Inbox()
    # No subscriptions this time: the messages come from the session the broker kept, not a new subscription.
    async with session(nats.port, "gateway-1", "gateway", inbox=inbox) as gw:
        assert gw.session_present
        got = await inbox.wait_for(5)
        assert sorted(p.payload for p in got) == [f'{{"seq":{seq}}}'.encode() for seq in range(5)]
        assert all(p.qos == 1 for p in got)
    # A clean session ends it.
    async with session(nats.port, "gateway-1", "gateway", clean_start=True) as gw:
        assert not gw.session_present


async def test_nats_bad_password_is_refused_with_a_clear_error(nats: services.ChildServer) -> None:
    code = await probe_connect(
        "127.0.0.1", nats.port, client_id="probe", username="device", password="wrong", protocol=4
    )
    assert code in (4, 5), "3.1.1: bad user name or password / not authorized"
    assert (
        await probe_connect(
            "127.0.0.1", nats.port, client_id="probe", username="device", password="dev-secret", protocol=4
        )
        == 0
    )

    s = MqttSession(
        SessionOptions(
            host="127.0.0.1",
            port=nats.port,
            client_id="s-00001",
            username="device",
            password="wrong",
            protocol=4,
            backoff_initial=0.05,
            backoff_max=0.2,
        )
    )
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(s.run())
        for _ in range(500):  # the first attempt's refusal; later ones are backing off
            if s.last_error is not None:
                break
            await asyncio.sleep(0.02)
        runner.cancel()
    assert not s.connected
    assert s.last_error is not None, "the refusal was never seen"
    assert s.last_error.startswith(ConnectRefusedError.__name__), s.last_error
    assert f"CONNACK return code {code}" in s.last_error
    assert ("not authorized" if code == 5 else "bad user name or password") in s.last_error


async def test_mosquitto_speaks_protocol_4_with_a_persistent_session(mosquitto: services.ChildServer) -> None:
    async with session(mosquitto.port, "gateway-1", subscriptions=[(TOPIC, 1)]) as gw:
        assert not gw.session_present
    async with session(mosquitto.port, "s-00001") as device:
        await device.publish(TOPIC, b"while away", qos=1)
    inbox = Inbox()
    async with session(mosquitto.port, "gateway-1", inbox=inbox, subscriptions=[(TOPIC, 1)]) as gw:
        assert gw.session_present
        assert [(p.topic, p.payload, p.qos) for p in await inbox.wait_for(1)] == [(TOPIC, b"while away", 1)]
        async with session(mosquitto.port, "s-00001") as device:
            await device.publish(TOPIC, b"live", qos=1)
        assert [p.payload for p in await inbox.wait_for(2)] == [b"while away", b"live"]


async def test_simulate_live_publishes_at_protocol_4_to_nats(
    nats: services.ChildServer, registry_file: Path, tmp_path: Path
) -> None:
    password_file = tmp_path / "device.password"
    password_file.write_text(USERS["device"])
    inbox = Inbox()
    async with session(nats.port, "gateway-1", "gateway", inbox=inbox, subscriptions=[("guardian/#", 1)]):
        argv = ["simulate", "live", "--registry", str(registry_file), "--port", str(nats.port)]
        argv += ["--username", "device", "--password-file", str(password_file), "--mqtt-protocol", "4"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway",
            *argv,
            "--speed",
            "60",
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            got = await inbox.wait_for(1, timeout=30)
        finally:
            proc.terminate()
            _, err = await proc.communicate()
        assert got[0].topic.startswith("guardian/t1/"), (got[0], err.decode(errors="replace")[-2000:])
