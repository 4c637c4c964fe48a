"""A resident's Home Assistant, live: a running gateway, the estate's Mosquitto, and a second Mosquitto as
her own broker, with a client on it that reads every message as Home Assistant's discovery would
(tests/gateway/homeassistant/ha_discovery.py). The tests run in order on one estate."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import pwd
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from gateway.homeassistant.discovery import DeviceCard, gateway_topic
from gateway.ops import services
from gateway.ops.broker_access import hash_password
from gateway.store.accounts import create_account
from gateway.store.db import open_store, sqlite_url
from gateway.store.registry_import import import_registry
from sensors.registry import SiteRegistry
from simulators import estate
from simulators import scenarios as sc
from simulators.fleet import publish_all
from tests.gateway.homeassistant.ha_discovery import Discovered, available, parse, state_of
from tests.gateway.http.api.rig import JWT_KEY, PASSWORD, t1_registry
from tests.support import GatewayProcess, secured_broker, simulator_login, wait_for

HA_USER, HA_PASSWORD = "ha-gateway", "her own broker password"
HOME = "/api/v1/sites/t1/households/b1-u1-101/home-assistant"
NEIGHBOUR = "s-00002"  # b1-u1-102, the same unit as hers
MINE = DeviceCard("t1", "b1-u1-101", "s-00001", "co_gas", mains=True)
ACCOUNTS = {
    "res1": ("resident", "p-00001"),  # lives in b1-u1-101
    "fam1": ("resident", "c-1"),  # a family contact of b1-u1-101
    "res2": ("resident", "p-00003"),  # lives in b1-u1-102, next door
    "pm1": ("property", "pm-1"),
    "mnt1": ("maintenance", None),
}


def her_broker(directory: Path) -> services.ChildServer:
    """Mosquitto as a resident runs it for Home Assistant: one user with a password, no anonymous."""
    directory.mkdir(parents=True)
    (directory / "passwd").write_text(f"{HA_USER}:{hash_password(HA_PASSWORD)}\n")
    (directory / "passwd").chmod(0o600)
    port = services.free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nuser {pwd.getpwuid(os.geteuid()).pw_name}\n"
        f"allow_anonymous false\npassword_file {directory / 'passwd'}\n"
        f"persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n"
    )
    return services.ChildServer(
        name="mosquitto-home",
        directory=directory,
        port=port,
        argv=[services.find_binary("mosquitto"), "-c", str(conf)],
        log=directory / "mosquitto.log",
    )


@dataclass
class Listener:
    """A client on her broker, as Home Assistant is one: every message on its topics, with receive times."""

    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-u", HA_USER, "-P", HA_PASSWORD,
             "-q", "1", "-t", "homeassistant/#", "-t", "gas-guardian/#", "-F", "%j"],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            m = json.loads(line)
            m["at"] = time.monotonic()
            self.messages.append(m)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [m for m in list(self.messages) if m["topic"] == topic]

    def latest(self) -> dict[str, bytes]:
        """Each topic's last payload: what a client connecting now would be given as retained."""
        return {m["topic"]: (m["payload"] or "").encode() for m in list(self.messages)}

    def retained(self, topic: str) -> dict[str, Any]:
        """What a client subscribing now is given for the topic: the broker's retained message."""
        done = subprocess.run(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-u", HA_USER, "-P", HA_PASSWORD,
             "-t", topic, "-C", "1", "-W", "5", "-F", "%j"],
            check=True, timeout=10, capture_output=True,
        )  # fmt: skip
        out: dict[str, Any] = json.loads(done.stdout)
        return out

    def publish(self, topic: str, payload: str) -> None:
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-u", HA_USER, "-P", HA_PASSWORD,
             "-q", "1", "-t", topic, "-m", payload],
            check=True, timeout=10,
        )  # fmt: skip


@dataclass
class Estate:
    gw: GatewayProcess
    district: services.ChildServer
    home: services.ChildServer
    listener: Listener
    base: str
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=20, **kw)

    def publish(self, messages: list[dict[str, Any]]) -> None:
        wire = [(m["topic"], msgspec.json.encode(m["payload"])) for m in messages]
        login = simulator_login(self.district)
        asyncio.run(publish_all(host="127.0.0.1", port=self.district.port, login=login, messages=wire))

    def enrol(self, password: str) -> httpx.Response:
        body = {"host": "127.0.0.1", "port": self.home.port, "username": HA_USER, "password": password}
        return self.call("res1", "PUT", HOME, json=body)

    def open_alarm(self, device: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def present() -> bool:
            r = self.call("pm1", "GET", "/api/v1/alarms", params={"state": "open", "site": "t1"})
            found[:] = [a for a in r.json()["items"] if a["subject"] == device]
            return bool(found)

        wait_for(present, 30, 0.3, f"an open alarm on {device}", diagnose=self.gw.log_tail)
        return found[0]


async def _accounts(path: Path) -> None:
    """The registry and the accounts, in the store the gateway will open (as `guardian registry import`
    and `guardian accounts add` make them, without a process each)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    async with open_store(sqlite_url(path)) as store:
        await import_registry(store, SiteRegistry.model_validate(t1_registry()))
        for username, (role, person) in ACCOUNTS.items():
            await create_account(store, username, PASSWORD, role, site="t1", person=person, now=time.time())


@contextmanager
def running_estate(tmp: Path) -> Iterator[Estate]:
    """The estate, her broker and a gateway with the bridge on, every account signed in (the page test in
    test_home_assistant_page.py starts one of its own)."""
    registry = tmp / "t1.yaml"
    registry.write_text(estate.dump(t1_registry()))
    district = secured_broker(tmp, t1_registry())
    influx = services.influxd(tmp / "influxdb")
    mine = her_broker(tmp / "her-broker")
    with district, influx, mine:
        services.wait_influx_ready(influx.port)
        gw = GatewayProcess.against(
            district,
            influx,
            registry=registry,
            data_dir=tmp / "gw",
            extra_env={
                "GUARDIAN_API__JWT_KEY": JWT_KEY,
                "GUARDIAN_INGEST__MAX_SKEW": "7200",
                "GUARDIAN_HOME_ASSISTANT__ENABLED": "true",
                "GUARDIAN_HOME_ASSISTANT__HEALTH_EVERY": "1",
                "GUARDIAN_HOME_ASSISTANT__BACKOFF_MAX": "2",
            },
        )
        asyncio.run(_accounts(tmp / "gw" / "guardian.sqlite3"))
        e = Estate(gw, district, mine, Listener(mine.port), f"http://127.0.0.1:{gw.http_port}")
        e.listener.start()
        gw.start()
        try:
            for username in ACCOUNTS:
                r = httpx.post(
                    f"{e.base}/api/v1/auth/token", data={"username": username, "password": PASSWORD}
                )
                e.tokens[username] = r.json()["access_token"]
            yield e
        finally:
            gw.stop()
            e.listener.stop()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    with running_estate(tmp_path_factory.mktemp("ha")) as e:
        yield e


def test_enrolment_is_hers_to_make_and_refuses_bad_input_naming_the_field(home: Estate) -> None:
    assert home.call("res1", "GET", HOME).json()["enrolled"] is False
    bad = [
        ({"host": "not a host!", "port": home.home.port}, "host"),
        ({"host": "127.0.0.1", "port": 0}, "port"),
        ({"host": "127.0.0.1", "port": home.home.port, "discovery_prefix": "home/assistant"}, "discovery_prefix"),
        ({"host": "127.0.0.1", "port": home.district.port}, "host"),  # the estate's own broker
        ({"host": "localhost", "port": home.district.port}, "host"),  # by another name
    ]  # fmt: skip
    for body, name in bad:
        r = home.call("res1", "PUT", HOME, json=body)
        assert r.status_code == 422, r.text
        assert name in json.dumps(r.json()["detail"]), r.text
    body = {"host": "127.0.0.1", "port": home.home.port}
    assert home.call("fam1", "PUT", HOME, json=body).status_code == 403, (
        "a family contact does not live there"
    )
    assert home.call("res2", "PUT", HOME, json=body).status_code == 404, "next door is not hers"
    assert home.call("mnt1", "PUT", HOME, json=body).status_code == 403
    assert home.call("res1", "GET", HOME).json()["enrolled"] is False, "nothing was stored"
    assert home.call("pm1", "GET", HOME).json()["enrolled"] is False, "the property office may look"


def test_a_wrong_password_is_logged_and_retried_and_never_stops_the_gateway(home: Estate) -> None:
    r = home.enrol("not her password")
    assert (
        r.status_code == 200 and r.json()["enrolled"] and "password" not in r.text.replace("has_password", "")
    )
    wait_for(lambda: home.call("res1", "GET", HOME).json()["last_error"], 15, 0.3, "the refusal reported")
    assert "refused" in home.call("res1", "GET", HOME).json()["last_error"]
    line = "Home Assistant broker of household t1/b1-u1-101 at 127.0.0.1"
    wait_for(lambda: line in home.gw.log_tail(), 10, 0.3, "an error line", diagnose=home.gw.log_tail)
    reconnects = home.gw.log_tail().count(f"MQTT connection to 127.0.0.1:{home.home.port} failed")
    wait_for(
        lambda: home.gw.log_tail().count(f"MQTT connection to 127.0.0.1:{home.home.port} failed") > reconnects,
        10, 0.3, "a retry",
    )  # fmt: skip
    assert home.gw.health()[0] == 200 and home.gw.proc is not None and home.gw.proc.poll() is None
    assert "not her password" not in home.gw.log_tail()


def test_her_home_assistant_discovers_her_devices_and_only_hers(home: Estate) -> None:
    now = time.time()
    home.publish([sc.readings(site="t1", device=d, start=now - 1, end=now, co=lambda t: 3.0)[0]
                  for d in ("s-00001", NEIGHBOUR)])  # fmt: skip
    r = home.enrol(HA_PASSWORD)
    assert r.status_code == 200 and r.json()["has_password"]
    wait_for(lambda: home.call("res1", "GET", HOME).json()["connected"], 15, 0.3, "connected")
    config = f"homeassistant/device/{MINE.object_id}/config"
    wait_for(lambda: home.listener.on(config), 10, 0.2, "her detector discovered")
    seen = Discovered()
    configs = [m for m in list(home.listener.messages) if m["topic"].startswith("homeassistant/device/")]
    for m in configs:
        parse(m["topic"], m["payload"], seen)
    kept = home.listener.retained(config)
    assert kept["retain"] == 1 and json.loads(kept["payload"])["dev"]["ids"] == [MINE.object_id]
    assert set(seen.devices) == {MINE.object_id, "gas_guardian_t1_d-b1-u1"}, (
        "her detector and her unit's door"
    )
    everything = json.dumps(home.listener.messages)
    assert NEIGHBOUR not in everything and "b1-u1-102" not in everything
    co = next(e for e in seen.entities.values() if e.config["unique_id"] == f"{MINE.object_id}_co")
    wait_for(lambda: available(co, home.listener.latest()), 10, 0.3, "available (both topics online)")
    assert home.listener.latest()[gateway_topic("t1", "b1-u1-101")] == b"online"
    assert state_of(co, home.listener.latest()[MINE.state_topic("co")]) is False
    ppm = next(e for e in seen.entities.values() if e.component_id == "co_ppm")
    wait_for(lambda: MINE.state_topic("co_ppm") in home.listener.latest(), 10, 0.3, "the CO reading")
    assert 2.0 <= state_of(ppm, home.listener.latest()[MINE.state_topic("co_ppm")]) <= 4.0


def test_her_alarm_shows_and_her_button_acknowledges_hers_and_only_hers(home: Estate) -> None:
    now = time.time()
    assert home.listener.latest()[MINE.state_topic("gas")] == b"OFF"
    home.publish([sc.event("t1", "s-00001", now, "alarm_co", seq=10),
                  sc.event("t1", NEIGHBOUR, now, "alarm_co", seq=10)])  # fmt: skip
    hers, theirs = home.open_alarm("s-00001"), home.open_alarm(NEIGHBOUR)
    wait_for(lambda: home.listener.latest().get(MINE.state_topic("co")) == b"ON", 10, 0.2, "CO on in HA")
    assert home.listener.latest()[MINE.state_topic("gas")] == b"OFF", "a CO alarm is no gas alarm"
    home.publish([sc.event("t1", "s-00001", now + 0.5, "alarm_gas", seq=11)])
    wait_for(lambda: home.listener.latest().get(MINE.state_topic("gas")) == b"ON", 10, 0.2, "gas on in HA")
    assert NEIGHBOUR not in json.dumps(home.listener.messages)
    home.listener.publish(f"gas-guardian/t1/{NEIGHBOUR}/acknowledge/press", "PRESS")  # forged, on her broker
    home.listener.publish(MINE.command_topic, "PRESS")

    def acked(alarm: dict[str, Any]) -> Any:
        r = home.call("pm1", "GET", f"/api/v1/alarms/{alarm['alarm_id']}")
        return r.json()["acked_ts"]

    wait_for(lambda: acked(hers), 15, 0.3, "her alarm acknowledged", diagnose=home.gw.log_tail)
    r = home.call("pm1", "GET", f"/api/v1/alarms/{hers['alarm_id']}").json()
    assert r["acked_by"] == "t1/p-00001", "in the name of the resident who enrolled"
    time.sleep(1.0)
    assert acked(theirs) is None, "a press naming the neighbour's detector does nothing"
    assert "not its device" in home.gw.log_tail()
    assert home.listener.latest()[MINE.state_topic("co")] == b"ON", "acknowledged, still an alarm"
    presses = "guardian_home_assistant_presses_total"
    assert home.gw.metric(presses, 'outcome="acknowledged"') == 1
    assert home.gw.metric(presses, 'outcome="not_hers"') == 1


def test_home_assistant_coming_online_gets_every_discovery_message_again(home: Estate) -> None:
    config = f"homeassistant/device/{MINE.object_id}/config"
    before = len(home.listener.on(config))
    home.listener.publish("homeassistant/status", "online")
    wait_for(lambda: len(home.listener.on(config)) > before, 10, 0.2, "discovery again")
    parse(config, home.listener.on(config)[-1]["payload"], Discovered())


def test_a_burst_of_readings_reaches_her_at_most_once_a_second_ending_on_the_latest(home: Estate) -> None:
    """Thirty readings over about a second of real time, in three bursts: without the limit each burst
    would be a message 0.3 s after the last."""
    topic = MINE.state_topic("co_ppm")
    time.sleep(1.1)  # the entity's last state (the reading of the test before) at least a second ago
    before = len(home.listener.on(topic))
    now = time.time()
    for part in range(3):
        home.publish([{"topic": sc.telemetry_topic("t1", "s-00001"),
                       "payload": {"seq": 100 + i, "ts": round(now - 2 + i * 0.05, 3), "co_ppm": float(10 + i)}}
                      for i in range(part * 10, part * 10 + 10)])  # fmt: skip
        time.sleep(0.3)
    wait_for(lambda: home.listener.latest().get(topic) == b"39.0", 10, 0.2, "the latest reading")
    got = home.listener.on(topic)[before:]
    assert 2 <= len(got) <= 3, [m["payload"] for m in got]
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(got)]
    assert all(g >= 0.8 for g in gaps), gaps  # >= 1 s on the gateway's clock; receive times jitter a little


def test_her_broker_restarting_empty_is_given_everything_again(home: Estate) -> None:
    """Her broker keeps nothing across a restart here (no persistence): the gateway reconnects (capped,
    jittered backoff) and publishes her devices, availability and states again."""
    home.listener.stop()
    home.home.stop()
    home.home.start()
    home.listener = Listener(home.home.port)
    home.listener.start()
    config = f"homeassistant/device/{MINE.object_id}/config"
    wait_for(lambda: home.listener.on(config), 20, 0.3, "discovery after her broker restarted")
    wait_for(lambda: home.listener.latest().get(MINE.state_topic("co")) == b"ON", 10, 0.3, "states again")
    assert home.listener.latest()[gateway_topic("t1", "b1-u1-101")] == b"online"
    assert home.call("res1", "GET", HOME).json()["connected"]


def test_the_gateway_going_away_makes_her_devices_unavailable_until_it_is_back(home: Estate) -> None:
    """SIGKILL: the broker publishes the gateway's will (retained `offline`); restarted, the gateway loads
    the enrolment from the store, connects and says `online`, the open alarm still shown."""
    seen = Discovered()
    co = next(e for e in parse(f"homeassistant/device/{MINE.object_id}/config",
                               home.listener.retained(f"homeassistant/device/{MINE.object_id}/config")["payload"],
                               seen) if e.component_id == "co")  # fmt: skip
    home.gw.kill()
    wait_for(
        lambda: home.listener.latest().get(gateway_topic("t1", "b1-u1-101")) == b"offline", 10, 0.2, "will"
    )
    assert not available(co, home.listener.latest())
    home.gw.start()
    wait_for(
        lambda: available(co, home.listener.latest()), 20, 0.3, "available again", diagnose=home.gw.log_tail
    )
    assert home.listener.retained(MINE.state_topic("co"))["payload"] == "ON"


def test_opting_out_removes_her_devices_from_home_assistant(home: Estate) -> None:
    config = f"homeassistant/device/{MINE.object_id}/config"
    assert home.call("res1", "DELETE", HOME).status_code == 204
    wait_for(lambda: home.listener.latest().get(config) == b"", 10, 0.2, "the config cleared")
    assert home.listener.latest()[MINE.state_topic("co")] == b""
    assert home.call("res1", "GET", HOME).json()["enrolled"] is False
    assert home.call("res1", "DELETE", HOME).status_code == 404
