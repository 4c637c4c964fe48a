"""The broker itself refuses what a device may not do: per-device credentials and ACL on a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import msgspec

from gateway.config.registry_file import load_registries
from gateway.mqtt.client import probe_connect
from gateway.ops.broker_access import GATEWAY, MONITOR, Broker, BrokerAccess
from simulators.fleet import connected
from tests.support import GatewayProcess, influx_rows, stored_count, wait_for

NOT_AUTHORIZED = 0x87
REFUSED = {0x86, 0x87}  # bad user name or password / not authorised: Mosquitto 2.0 answers the latter


def reading(seq: int, co: float = 1.0) -> bytes:
    return msgspec.json.encode({"seq": seq, "ts": time.time(), "co_ppm": co})


def publish_as(port: int, login: tuple[str, str], topic: str, payload: bytes) -> int:
    """The PUBACK's reason code."""

    async def go() -> int:
        async with connected("127.0.0.1", port, login[0], login) as session:
            future = await session.publish_nowait(topic, payload, qos=1)
            assert future is not None
            return await future

    return asyncio.run(go())


def connack(port: int, username: str | None, password: str | None, client_id: str = "probe") -> int:
    return asyncio.run(
        probe_connect("127.0.0.1", port, client_id=client_id, username=username, password=password)
    )


def test_devices_speak_only_for_themselves(tmp_path, registry_file, broker, influx) -> None:  # type: ignore[no-untyped-def]
    access = broker.access
    gw = GatewayProcess.against(
        broker,
        influx,
        registry=registry_file,
        data_dir=tmp_path / "gw",
    )
    gw.start()
    try:
        own = access.device_login("t1", "s-00001")
        assert publish_as(broker.port, own, "guardian/t1/sensor/s-00001/telemetry", reading(1)) == 0
        # s-00001 claiming to be its neighbour: the broker answers "not authorised" and passes nothing on
        for topic in ("guardian/t1/sensor/s-00002/telemetry", "guardian/t1/door/d-b1-u1/event"):
            assert publish_as(broker.port, own, topic, reading(2, co=0.0)) == NOT_AUTHORIZED
        # a door's credential is not a sensor's either
        door = access.device_login("t1", "d-b1-u1")
        assert publish_as(broker.port, door, "guardian/t1/sensor/s-00001/event", reading(3)) == NOT_AUTHORIZED
        wait_for(lambda: stored_count(influx.port) >= 1, 30, message="the device's own reading stored")
        time.sleep(1.0)
        rows = influx_rows(influx.port, 'SELECT "seq", "device" FROM "sensor_reading"')
        assert [(r["device"], r["seq"]) for r in rows] == [("s-00001", 1)]
        assert (
            gw.metric("guardian_rejected_total", 'reason="device_mismatch"') == 0
        )  # the broker stopped them
    finally:
        gw.stop()


def test_wrong_password_anonymous_and_unknown_accounts_are_refused(broker) -> None:  # type: ignore[no-untyped-def]
    user, password = broker.access.device_login("t1", "s-00003")
    assert connack(broker.port, user, password) == 0
    assert connack(broker.port, user, password[:-1] + ("x" if password[-1] != "x" else "y")) in REFUSED
    assert connack(broker.port, None, None) in REFUSED
    assert connack(broker.port, "s-99999", password) in REFUSED
    monitor = broker.login(MONITOR)
    assert connack(broker.port, *monitor) == 0


def test_no_device_can_take_over_the_gateway_session(tmp_path, registry_file, broker, influx) -> None:  # type: ignore[no-untyped-def]
    """MQTT drops an older connection with the same client id; the broker makes each client id its
    username, so a device claiming `guardian-gateway` gets its own session, not the gateway's queue."""
    gw = GatewayProcess.against(
        broker,
        influx,
        registry=registry_file,
        data_dir=tmp_path / "gw",
    )
    gw.start()
    try:
        login = broker.access.device_login("t1", "s-00004")

        async def hijack() -> None:
            async with connected("127.0.0.1", broker.port, GATEWAY, login) as session:
                await session.publish("guardian/t1/sensor/s-00004/telemetry", reading(1))
                await asyncio.sleep(1.0)

        asyncio.run(hijack())
        wait_for(lambda: stored_count(influx.port) >= 1, 30, message="reading through the gateway")
        time.sleep(1.0)  # the gauge is sampled every 0.5 s
        assert gw.metric("guardian_mqtt_connections") == 1, gw.log_tail()
        assert gw.health()[1]["mqtt"]["ok"] is True
    finally:
        gw.stop()


def test_rotate_and_revoke_one_device_without_touching_the_others(tmp_path, registry_file, broker) -> None:  # type: ignore[no-untyped-def]
    access: BrokerAccess = broker.access
    registries = load_registries(registry_file)
    before = access.hashes()
    old = access.device_login("t1", "s-00005")
    revoked = access.device_login("t1", "s-00006")

    async def hold_connection() -> bool:
        """True when the broker drops this connection after the revocation is reloaded."""
        async with connected("127.0.0.1", broker.port, revoked[0], revoked) as session:
            access.revoke(registries, "s-00006")
            broker.reload()
            for _ in range(50):
                await asyncio.sleep(0.1)
                if not session.connected:
                    return True
            return False

    access.rotate(registries, "s-00005", Broker())
    assert asyncio.run(hold_connection()), "a connected client with a revoked credential stays connected"
    new = access.device_login("t1", "s-00005")
    assert connack(broker.port, *new) == 0
    assert connack(broker.port, *old) in REFUSED
    assert connack(broker.port, *revoked) in REFUSED
    after = access.hashes()
    changed = {u for u in before.keys() | after.keys() if before.get(u) != after.get(u)}
    assert changed == {"s-00005", "s-00006"}
    # provisioning again (a registry update) keeps the revoked device out; rotating brings it back
    created, skipped = access.provision(registries, Broker(), simulator=True)
    assert created == [] and [d.id for d in skipped] == ["s-00006"]
    access.rotate(registries, "s-00006", Broker())
    broker.reload()
    time.sleep(0.5)
    assert connack(broker.port, *access.device_login("t1", "s-00006")) == 0


def test_provisioned_hashes_are_what_mosquitto_passwd_writes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same salt gives the same line as Mosquitto's own tool (it cannot be told the salt, so compare
    by verifying its line with ours)."""
    import base64

    from gateway.ops.broker_access import hash_password

    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "dev", "correct horse"], check=True)
    line = path.read_text().strip()
    _, _, rounds, salt, _ = line.split(":", 1)[1].split("$")
    assert hash_password("correct horse", base64.b64decode(salt), int(rounds)) == line.split(":", 1)[1]
    assert hash_password("correct horsf", base64.b64decode(salt), int(rounds)) != line.split(":", 1)[1]


def test_provision_command_writes_the_broker_files_and_one_file_per_device(
    tmp_path, registry_file, registry_dict
) -> None:  # type: ignore[no-untyped-def]
    import stat
    import sys

    from simulators import estate
    from tests.support import ROOT

    out = tmp_path / "access"
    run = subprocess.run(
        [sys.executable, "-m", "gateway", "devices", "--registry", str(registry_file), "--dir", str(out),
         "--host", "mqtt.yanghe.example", "--port", "8883", "provision"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    devices = len(estate.sensor_ids(registry_dict)) + sum(
        len(u["doors"]) for b in registry_dict["buildings"] for u in b["units"]
    )
    assert f"{devices} devices provisioned" in run.stdout
    users = set(BrokerAccess(out).hashes())
    assert len(users) == devices + 2 and {GATEWAY, MONITOR} <= users  # no simulator unless asked
    sample = json.loads((out / "devices" / "t1" / "s-00001.json").read_text())
    assert sample["broker"] == {"host": "mqtt.yanghe.example", "port": 8883, "tls": False, "ca": None}
    assert sample["topics"]["telemetry"] == "guardian/t1/sensor/s-00001/telemetry"
    assert stat.S_IMODE((out / "devices" / "t1" / "s-00001.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "secrets" / "mqtt__password").stat().st_mode) == 0o600
    acl = (out / "acl").read_text()
    assert (
        "pattern write guardian/+/sensor/%u/+" in acl and "pattern read" not in acl  # devices read nothing
    )
    # again: nothing new, nothing changed
    before = (out / "passwd").read_text()
    again = subprocess.run(
        [sys.executable, "-m", "gateway", "devices", "--registry", str(registry_file), "--dir", str(out), "provision"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    assert "0 devices provisioned" in again.stdout and (out / "passwd").read_text() == before


def test_a_concentrator_publishes_its_sites_batches_and_nothing_else(
    tmp_path, registry_file, registry_dict
) -> None:  # type: ignore[no-untyped-def]
    from gateway.ops import services
    from gateway.ops.broker_access import CONCENTRATOR

    access = BrokerAccess(tmp_path / "access")
    access.provision(load_registries(registry_file), Broker(), concentrators=True)
    with services.mosquitto(tmp_path / "mq", access=access) as broker:
        login = access.login(f"{CONCENTRATOR}t1")
        batch = msgspec.json.encode({"readings": [{"device": "s-00001", "seq": 1, "co_ppm": 1.0}]})
        accepted = publish_as(broker.port, login, "guardian/t1/sensor/_batch/telemetry", batch)
        assert accepted in (0x00, 0x10)  # 0x10: accepted, no subscriber yet
        assert publish_as(broker.port, login, "guardian/t2/sensor/_batch/telemetry", batch) == NOT_AUTHORIZED
        assert (
            publish_as(broker.port, login, "guardian/t1/sensor/s-00001/telemetry", reading(1))
            == NOT_AUTHORIZED
        )
