"""The NATS cluster refuses what a device may not do: `guardian devices provision --nats` on a real nats-server.

A device is an MQTT 3.1.1 client with its own password; it may publish its own subjects only, may not speak
the NATS protocol (so it cannot call the JetStream API or read the streams), and a revoked device is refused
after a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import nats

from gateway.mqtt.client import probe_connect
from gateway.ops.broker_access import GATEWAY, SIMULATOR, BrokerAccess
from gateway.ops.nats_access import NatsAccess
from gateway.ops.nats_cluster import NatsCluster
from simulators.fleet import connected

ROOT = Path(__file__).resolve().parents[2]
MQTT311 = 4
REFUSED_311 = {4, 5}  # bad user name or password / not authorised


def reading(seq: int) -> bytes:
    return msgspec.json.encode({"seq": seq, "ts": time.time(), "co_ppm": 1.0})


def publish_as(port: int, login: tuple[str, str], topic: str, payload: bytes) -> None:
    """One QoS 1 publish on its own connection; a broker that cuts the connection is not an error here."""

    async def go() -> None:
        async with connected("127.0.0.1", port, login[0], login, protocol=MQTT311) as session:
            future = await session.publish_nowait(topic, payload, qos=1)
            assert future is not None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(future, 5)

    with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
        asyncio.run(go())


def connack(port: int, login: tuple[str, str | None]) -> int:
    return asyncio.run(
        probe_connect(
            "127.0.0.1", port, client_id=login[0], username=login[0], password=login[1], protocol=MQTT311
        )
    )


def nats_connect(port: int, user: str, password: str) -> str:
    """The server's answer to a NATS-protocol CONNECT and PING, as a client library would send them."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        f = sock.makefile("rwb")
        assert f.readline().startswith(b"INFO ")
        f.write(
            b"CONNECT "
            + json.dumps({"user": user, "pass": password, "verbose": False}).encode()
            + b"\r\nPING\r\n"
        )
        f.flush()
        return f.readline().decode()


def test_devices_speak_only_for_themselves_on_nats(tmp_path: Path, registry_file: Path) -> None:
    # the operator's commands, as a site runs them
    access_dir = tmp_path / "access"
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "devices", "--registry", str(registry_file), "--dir", str(access_dir),
         "provision", "--simulator", "--edges", "--nats"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    access = BrokerAccess(access_dir)
    auth = NatsAccess(access)
    assert auth.enabled and "$2" in auth.auth_file.read_text()  # bcrypt hashes, never the passwords
    own = access.device_login("t1", "s-00001")
    assert own[1] not in auth.auth_file.read_text()

    cluster = NatsCluster(tmp_path / "nats", size=1, auth=auth.auth_file)
    with cluster:
        port = cluster.mqtt_ports[0]
        got: list[tuple[str, bytes]] = []

        async def gateway_listens(actions) -> None:  # type: ignore[no-untyped-def]
            nc = await nats.connect(servers=cluster.urls, user=GATEWAY, password=access.login(GATEWAY)[1])

            async def on(msg) -> None:  # type: ignore[no-untyped-def]
                got.append((msg.subject, msg.data))

            await nc.subscribe("guardian.>", cb=on)
            await nc.flush()
            await asyncio.to_thread(actions)
            await asyncio.sleep(1.0)
            await nc.close()

        def devices() -> None:
            publish_as(port, own, "guardian/t1/sensor/s-00001/telemetry", reading(1))
            # s-00001 claiming to be its neighbour, a door, or another site: nothing passes
            for topic in (
                "guardian/t1/sensor/s-00002/telemetry",
                "guardian/t1/door/d-b1-u1/event",
                "guardian/t2/sensor/s-00001/telemetry",
                "guardian/t1/alarm/x",
            ):
                publish_as(port, own, topic, reading(2))
            door = access.device_login("t1", "d-b1-u1")
            publish_as(port, door, "guardian/t1/sensor/s-00001/event", reading(3))
            publish_as(port, door, "guardian/t1/door/d-b1-u1/event", reading(4))
            publish_as(port, access.login(SIMULATOR), "guardian/t1/sensor/s-00003/telemetry", reading(5))
            # a site's edge Mosquitto bridges every device of its site, and only of its site
            edge = access.login("edge-t1")
            publish_as(port, edge, "guardian/t1/sensor/s-00002/telemetry", reading(6))
            publish_as(port, edge, "guardian/t2/sensor/s-00002/telemetry", reading(7))
            publish_as(port, edge, "guardian/t1/alarm/x", reading(8))

        asyncio.run(gateway_listens(devices))
        assert sorted((s, msgspec.json.decode(d)["seq"]) for s, d in got) == [
            ("guardian.t1.door.d-b1-u1.event", 4),
            ("guardian.t1.sensor.s-00001.telemetry", 1),
            ("guardian.t1.sensor.s-00002.telemetry", 6),
            ("guardian.t1.sensor.s-00003.telemetry", 5),
        ]

        # wrong password, unknown user, anonymous: refused at CONNECT
        assert connack(port, own) == 0
        assert connack(port, (own[0], own[1][:-1] + ("x" if own[1][-1] != "x" else "y"))) in REFUSED_311
        assert connack(port, ("s-99999", own[1])) in REFUSED_311
        assert connack(port, ("anyone", None)) in REFUSED_311

        # a device's password does not open the NATS protocol (the JetStream API, the streams)
        assert "Authorization Violation" in nats_connect(cluster.nodes[0].port, *own)
        assert nats_connect(cluster.nodes[0].port, GATEWAY, access.login(GATEWAY)[1]).startswith("PONG")

        # revoke, reload: refused from then on; the others are untouched
        revoked = access.device_login("t1", "s-00002")
        assert connack(port, revoked) == 0
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "devices", "--registry", str(registry_file), "--dir", str(access_dir),
             "revoke", "s-00002"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert '"s-00002"' not in auth.auth_file.read_text()
        node = cluster.nodes[0]
        assert node.proc is not None
        node.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert connack(port, revoked) in REFUSED_311
        assert connack(port, own) == 0
