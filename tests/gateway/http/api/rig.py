"""One estate for the API tests: two sites, grids with their own officers, every role signed in, a real
Mosquitto, InfluxDB and gateway process, accounts made with the `guardian accounts` command."""

from __future__ import annotations

import asyncio
import copy
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import msgspec

from gateway.ops import services
from gateway.store.accounts import create_account
from gateway.store.db import open_store, sqlite_url
from simulators import estate
from simulators import scenarios as sc
from simulators.fleet import publish_all
from tests.support import ROOT, GatewayProcess, secured_broker, simulator_login, wait_for

JWT_KEY = "k" * 16 + "test-signing-key-32-bytes-long!!"
PASSWORD = "correct horse battery"
PROPERTY_PHONE = "0731-8888 1234"
"""Site t1's property desk, as its registry gives it."""


def t1_registry() -> dict[str, Any]:
    """b1 in grid g1 (officers o-1 and o-3, who has no account), b2 in grid g2 (officer o-2); a family
    contact for b1-u1-101; the property desk's phone."""
    reg = estate.small_estate(site="t1", buildings=2, units=1, households_per_unit=2)
    reg["grids"] = [
        {
            "id": "g1",
            "buildings": ["b1"],
            "officers": [{"id": "o-1", "name": "Zhao"}, {"id": "o-3", "name": "Sun"}],
        },
        {"id": "g2", "buildings": ["b2"], "officers": [{"id": "o-2", "name": "Qian"}]},
    ]
    reg["maintenance"] = [{"id": "m-1", "name": "Fixer"}]
    # a crew of its own takes b1's detector faults; nothing else this estate's tests file goes by a rule
    reg["teams"] = [{"id": "fitters", "name": "探测器班 Detector crew", "members": ["m-1"]}]
    reg["dispatch"] = [{"category": "detector_fault", "building": "b1", "team": "fitters"}]
    reg["phone"] = PROPERTY_PHONE
    reg["buildings"][0]["units"][0]["households"][0]["contacts"] = [{"id": "c-1", "name": "Daughter"}]
    return reg


def t2_registry() -> dict[str, Any]:
    reg = copy.deepcopy(estate.small_estate(site="t2", buildings=1, units=1, households_per_unit=1))
    reg["property"] = [{"id": "pm-2", "name": "Other estate"}]
    return reg


ACCOUNTS = {
    # username: (role, site, person)
    "res1": ("resident", "t1", "p-00001"),  # lives in b1-u1-101
    "fam1": ("resident", "t1", "c-1"),  # family contact of b1-u1-101
    "res3": ("resident", "t1", "p-00005"),  # lives in b2-u1-101
    "off1": ("officer", "t1", "o-1"),
    "off2": ("officer", "t1", "o-2"),
    "pm1": ("property", "t1", "pm-1"),
    "mnt1": ("maintenance", "t1", None),
    "admin": ("admin", None, None),
    "pm2": ("property", "t2", "pm-2"),
}
CREW = {"fit1": ("maintenance", "t1", "m-1")}
"""Signed in, but not among the callers every role test runs through: fit1 is the fitters team's member
(mnt1, of the same role, is not)."""
SPARE = {f"spare{i}": ("maintenance", "t1", None) for i in range(1, 6)}
"""Accounts made but not signed in at start: for tests that use up an account's sign-ins."""


def guardian(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@dataclass
class Site:
    base: str
    gw: GatewayProcess
    broker: services.ChildServer
    influx: services.ChildServer
    tokens: dict[str, str] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None = None, token: str | None = None) -> httpx.Client:
        token = token or (self.tokens[who] if who else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=20)

    def get(self, who: str | None, path: str, **kw: Any) -> httpx.Response:
        with self.client(who) as c:
            return c.get(path, **kw)

    def post(self, who: str | None, path: str, **kw: Any) -> httpx.Response:
        with self.client(who) as c:
            return c.post(path, **kw)

    def delete(self, who: str | None, path: str, **kw: Any) -> httpx.Response:
        with self.client(who) as c:
            return c.delete(path, **kw)

    def put(self, who: str | None, path: str, **kw: Any) -> httpx.Response:
        with self.client(who) as c:
            return c.put(path, **kw)

    def publish(self, messages: list[dict[str, Any]]) -> None:
        wire = [(m["topic"], msgspec.json.encode(m["payload"])) for m in messages]
        asyncio.run(
            publish_all(
                host="127.0.0.1", port=self.broker.port, login=simulator_login(self.broker), messages=wire
            )
        )

    def raise_co(self, device: str, ago: float = 0.0) -> dict[str, Any]:
        """A detector's own CO alarm (P1, latched): the alarm the gateway raises for it, once in the store."""
        return self.raise_alarm(device, "alarm_co", "CO-1", ago)

    def raise_alarm(self, device: str, event: str, rule: str, ago: float = 0.0) -> dict[str, Any]:
        self.publish([sc.event("t1", device, time.time() - ago, event, seq=int(time.time()))])
        found: list[dict[str, Any]] = []

        def present() -> bool:
            r = self.get("admin", "/api/v1/alarms", params={"rule": rule, "state": "open"})
            found[:] = [a for a in r.json()["items"] if a["subject"] == device]
            return bool(found)

        wait_for(present, 30, 0.3, f"{rule} alarm for {device}", diagnose=self.gw.log_tail)
        return found[0]

    def token(self, username: str, **changes: Any) -> str:
        """A token signed with the gateway's key, with claims changed (expired, wrong audience...)."""
        role = ACCOUNTS[username][0]
        now = int(time.time())
        claims = {
            "iss": "gas-guardian",
            "aud": "gas-guardian-api",
            "sub": username,
            "role": role,
            "ver": 0,
            "typ": "access",
            "iat": now,
            "exp": now + 600,
        } | changes
        return jwt.encode(claims, JWT_KEY, algorithm="HS256")


def start(tmp: Path) -> Site:
    registries = tmp / "registries"
    registries.mkdir()
    (registries / "t1.yaml").write_text(estate.dump(t1_registry()))
    (registries / "t2.yaml").write_text(estate.dump(t2_registry()))
    broker = secured_broker(tmp, t1_registry())
    influx = services.influxd(tmp / "influxdb")
    broker.__enter__()
    influx.__enter__()
    gw = GatewayProcess.against(
        broker,
        influx,
        registry=registries,
        data_dir=tmp / "gw",
        extra_env={
            "GUARDIAN_API__JWT_KEY": JWT_KEY,
            "GUARDIAN_INGEST__MAX_SKEW": "7200",
            "GUARDIAN_NOTIFY__PUSH_HOSTS": '["push.example"]',  # the phones' push service in these tests
        },
    )
    site = Site(base=f"http://127.0.0.1:{gw.http_port}", gw=gw, broker=broker, influx=influx)
    try:
        _start(site, registries, tmp)
    except BaseException:
        stop(site)
        raise
    return site


async def _accounts(path: Path, accounts: dict[str, tuple[str, str | None, str | None]]) -> None:
    """Accounts in the store the gateway will open, as `guardian accounts add` makes them, without a
    process each (a dozen processes cost most of this package's setup on a loaded machine)."""
    async with open_store(sqlite_url(path)) as store:
        for username, (role, home, person) in accounts.items():
            await create_account(store, username, PASSWORD, role, site=home, person=person, now=time.time())


def _start(site: Site, registries: Path, tmp: Path) -> None:
    services.wait_influx_ready(site.influx.port)
    env = site.gw.env()
    out = guardian(env, "registry", "import", str(registries))
    assert "site t1:" in out and "site t2:" in out, out
    pw = tmp / "password"
    pw.write_text(PASSWORD + "\n")
    # one account through the command itself, the rest in this process
    guardian(env, "accounts", "add", "admin", "--role", "admin", "--password-file", str(pw))
    others = {u: a for u, a in (ACCOUNTS | CREW | SPARE).items() if u != "admin"}
    asyncio.run(_accounts(tmp / "gw" / "guardian.sqlite3", others))
    site.gw.start()
    for username in ACCOUNTS | CREW:
        r = httpx.post(f"{site.base}/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        site.tokens[username] = r.json()["access_token"]
        site.refresh[username] = r.json()["refresh_token"]


def stop(site: Site) -> None:
    site.gw.stop()
    site.broker.__exit__(None, None, None)
    site.influx.__exit__(None, None, None)
