"""A district's API replicas (`guardian run --role api`): any number of them over one PostgreSQL store, each
answering as the others would.

A real 3-node NATS cluster, real InfluxDB and PostgreSQL, one gateway instance (gw-a, owning every
partition) and two API replicas (api-a, api-b) as real processes, and a real HTTP receiver in apprise's JSON
wire format standing for the residents' phones. A token signed in on one replica is good on the other; wrong
passwords spread over both lock the account on both; a sign-out-everywhere on one revokes the refresh token
on the other; a CO alarm raised by the partition's owner is listed by both, acknowledged through api-b it
reaches the owner's engine (the alarm book shows it, its P1 reminders stop), and its timeline,
read from the district's outbox, shows the delivery to the resident.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.config.registry_file import load_registries
from gateway.ops import services
from gateway.ops.nats_cluster import NatsCluster
from gateway.store.accounts import create_account
from gateway.store.db import open_store
from gateway.store.registry_import import import_registry
from tests.district.rig import Instance, owners, publish, wait
from tests.district.test_notify import _exposure, _migrated, _registries
from tests.gateway.notify.receivers import Receiver

PASSWORD = "correct horse battery"
REMIND_S = 20
"""An unacknowledged P1's reminder at c4 and c5 (300 s by default): the engine runs in wall time."""


@dataclass
class Replicas:
    cluster: NatsCluster
    pg: services.ChildServer
    rx: Receiver
    owner: Instance
    a: Instance
    b: Instance
    ports: dict[str, int]

    def url(self, replica: Instance, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[replica.name]}{path}"

    def rows(self, sql: str, *args: Any) -> list[Any]:
        async def go() -> list[Any]:
            conn = await asyncpg.connect(f"postgresql://guardian@127.0.0.1:{self.pg.port}/postgres")
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        return asyncio.run(go())


def _accounts(url: str, registry: Path) -> None:
    """Staff accounts, and a resident of c6 (its registry imported, as `guardian store import` does)."""

    async def go() -> None:
        async with open_store(url) as store:
            for reg in load_registries(registry / "c6.yaml"):
                await import_registry(store, reg)
            for name in ("ops", "ops2", "locked"):
                await create_account(store, name, PASSWORD, "admin", name=name, now=time.time())
            await create_account(
                store, "resident", PASSWORD, "resident", site="c6", person="p-00001", now=time.time()
            )

    asyncio.run(go())


def _up(r: Replicas, replica: Instance) -> bool:
    try:
        return httpx.get(r.url(replica, "/readyz"), timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("district-api")
    cluster = NatsCluster(root / "nats")
    influx = services.influxd(root / "influxdb")
    pg = services.postgres()
    with Receiver() as rx, cluster, influx, pg:
        _registries(root / "registry", rx)
        services.wait_influx_ready(influx.port)
        store_url = services.postgres_url(pg)
        wait(lambda: _migrated(store_url), 30, "PostgreSQL up and migrated")
        _accounts(store_url, root / "registry")
        ports = {"api-a": services.free_port(), "api-b": services.free_port()}
        extra = {"GUARDIAN_STORE__URL": store_url}
        reminders = json.dumps({site: {"p1_remind_s": REMIND_S} for site in ("c4", "c5")})
        owner = Instance(
            "gw-a",
            cluster,
            root / "registry",
            influx.port,
            root / "gw-a",
            extra=extra | {"GUARDIAN_ALERTS__RULES": reminders},
        )
        a, b = (
            Instance(
                name,
                cluster,
                root / "registry",
                influx.port,
                root / name,
                extra=extra | {"GUARDIAN_HTTP__PORT": str(port), "GUARDIAN_API__SUBSCRIPTIONS_SECONDS": "2"},
                args=("--role", "api"),
            )
            for name, port in ports.items()
        )
        r = Replicas(cluster, pg, rx, owner, a, b, ports)
        for p in (owner, a, b):
            p.start()
        try:
            wait(lambda: _up(r, a) and _up(r, b), 60, "both replicas ready", lambda: a.tail() + b.tail())
            yield r
        finally:
            for p in (a, b, owner):
                p.stop()
            # SIGTERM stops a replica cleanly: it logs its stop and exits 0
            for p in (a, b):
                assert p.proc is not None and p.proc.returncode == 0, p.tail()
                assert "API replica stopping" in p.tail(), p.tail()


def _sign_in(r: Replicas, replica: Instance, user: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        r.url(replica, "/api/v1/auth/token"), data={"username": user, "password": password}, timeout=10
    )


def _get(r: Replicas, replica: Instance, path: str, token: str) -> httpx.Response:
    return httpx.get(r.url(replica, path), headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_a_token_from_one_replica_works_on_the_other(replicas: Replicas) -> None:
    r = replicas
    signed = _sign_in(r, r.a, "ops")
    assert signed.status_code == 200, signed.text
    me = _get(r, r.b, "/api/v1/me", signed.json()["access_token"])
    assert me.status_code == 200 and me.json()["username"] == "ops", me.text
    ready = httpx.get(r.url(r.b, "/readyz"), timeout=5).json()
    assert ready == {"ready": True, "store": True, "nats": True}
    health = httpx.get(r.url(r.a, "/healthz"), timeout=5).json()
    assert "mqtt" not in health and health["nats"]["ok"] is True


def test_wrong_passwords_over_both_replicas_lock_the_account_on_both(replicas: Replicas) -> None:
    r = replicas
    for n in range(5):
        wrong = _sign_in(r, (r.a, r.b)[n % 2], "locked", "not the password")
        assert wrong.status_code == 401, wrong.text
    for replica in (r.a, r.b):  # the right password now too: the count is the store's, not a process's
        refused = _sign_in(r, replica, "locked")
        assert refused.status_code == 429, (replica.name, refused.text)
        assert int(refused.headers["Retry-After"]) > 0


def test_sign_out_everywhere_on_one_replica_revokes_refresh_on_the_other(replicas: Replicas) -> None:
    r = replicas
    pair = _sign_in(r, r.b, "ops2").json()
    refreshed = httpx.post(
        r.url(r.b, "/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]}, timeout=10
    )
    assert refreshed.status_code == 200, refreshed.text
    out = httpx.post(
        r.url(r.a, "/api/v1/auth/logout"),
        headers={"Authorization": f"Bearer {pair['access_token']}"},
        timeout=10,
    )
    assert out.status_code == 204, out.text
    again = httpx.post(
        r.url(r.b, "/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]}, timeout=10
    )
    assert again.status_code == 401 and "revoked" in again.text, again.text


def _open_alarms(r: Replicas, replica: Instance, token: str, site: str) -> list[dict[str, Any]]:
    got = _get(r, replica, f"/api/v1/alarms?state=open&site={site}", token)
    assert got.status_code == 200, got.text
    return [a for a in got.json()["items"] if a["rule"].startswith("CO-")]


def test_an_alarm_is_seen_and_acknowledged_through_any_replica(replicas: Replicas) -> None:
    """c4's CO alarm (acknowledged through api-b) and c5's (through the resident's link, opened on api-a)."""
    r = replicas
    wait(lambda: set(owners(r.owner).values()) == {"gw-a"}, 60, "gw-a owns every partition", r.owner.tail)
    token = _sign_in(r, r.a, "ops").json()["access_token"]
    t0 = time.time() - 3600
    # c1's alarm is acknowledged while no owner runs (the last test)
    publish(r.cluster.urls, [m for s in ("c4", "c5", "c1") for m in _exposure(s, "s-00001", t0)])
    wait(lambda: all(_open_alarms(r, x, token, s) for x in (r.a, r.b) for s in ("c4", "c5")), 60,
         "both alarms listed by both replicas", r.owner.tail)  # fmt: skip
    [alarm] = _open_alarms(r, r.a, token, "c4")
    same = ("alarm_id", "rule", "site", "household", "raised_ts")  # the rest moves with each reminder
    assert {k: alarm[k] for k in same} == {k: _open_alarms(r, r.b, token, "c4")[0][k] for k in same}
    alarm_id = alarm["alarm_id"]
    c5_id = _open_alarms(r, r.b, token, "c5")[0]["alarm_id"]
    path = f"/api/v1/alarms/{alarm_id}/notifications"

    def told() -> list[dict[str, Any]]:
        items = _get(r, r.b, path, token).json()["items"]
        return [i for i in items if i["recipient"] == "p-00001" and i["sent_at"] and i["kind"] == "alert"]

    wait(lambda: bool(told()), 30, "the resident's alert in the timeline", r.owner.tail)
    started = time.monotonic()
    acked = httpx.post(
        r.url(r.b, f"/api/v1/alarms/{alarm_id}/acknowledge"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )
    took = time.monotonic() - started
    assert acked.status_code == 200, acked.text  # the owner is up: applied within the replica's wait
    assert acked.json()["state"] == "acknowledged" and acked.json()["acked_by"], acked.text
    [[state, acked_by]] = r.rows("SELECT state, acked_by FROM alarm WHERE alarm_id = $1", alarm_id)
    assert state == "acknowledged" and acked_by == acked.json()["acked_by"]
    # escalation stops: the P1 reminders (every REMIND_S at c4 and c5, both raised at the same time) stop
    # at c4, while c5, not acknowledged, is reminded again
    [[acked_at]] = r.rows("SELECT max(id) FROM alarm_event WHERE alarm_id = $1", alarm_id)
    later = (
        "SELECT count(*) FROM alarm_event WHERE alarm_id = $1 AND id > $2"
        " AND kind IN ('escalated', 'reminded')"
    )
    events = "SELECT id, kind, ts FROM alarm_event WHERE alarm_id = ANY($1::text[]) ORDER BY id"
    wait(lambda: r.rows(later, c5_id, acked_at)[0][0] > 0, REMIND_S + 15, "c5 reminded again",
         lambda: f"after {acked_at}: {[tuple(e) for e in r.rows(events, [alarm_id, c5_id])]}")  # fmt: skip
    assert r.rows(later, alarm_id, acked_at)[0][0] == 0
    assert _get(r, r.a, f"/api/v1/alarms/{alarm_id}", token).json()["notified"]
    # the resident's link (from the alert the owner sent), opened on api-a: published, applied by the owner
    [c5] = _open_alarms(r, r.a, token, "c5")
    wait(lambda: bool(r.rx.at("/apprise/c5/p-00001", 200)), 30, "c5's resident told", r.owner.tail)
    body = r.rx.at("/apprise/c5/p-00001", 200)[0].body.decode()
    link = re.search(r"/ack/([A-Za-z0-9._~-]+)", body)
    assert link is not None, body
    page = httpx.get(r.url(r.a, f"/ack/{link[1]}"), timeout=10)
    assert page.status_code == 200 and c5["alarm_id"] in page.text
    done = httpx.post(r.url(r.a, f"/ack/{link[1]}"), timeout=10)
    assert done.status_code == 200 and "Acknowledged" in done.text, done.text
    forged = httpx.post(r.url(r.a, f"/ack/{link[1][:-2]}xx"), timeout=10)
    assert forged.status_code == 403
    c5_row = "SELECT state, acked_by FROM alarm WHERE alarm_id = $1"
    wait(lambda: r.rows(c5_row, c5["alarm_id"])[0]["acked_by"] == "p-00001", 20,
         "the link's acknowledgement applied by the owner", r.owner.tail)  # fmt: skip
    print(f"API replica: acknowledge answered in {took:.2f} s")


def test_a_phone_enrolled_through_a_replica_is_in_the_store(replicas: Replicas) -> None:
    """The instances send web push to the store's subscriptions: one enrolled on a replica lands there."""
    r = replicas
    token = _sign_in(r, r.b, "resident").json()["access_token"]
    key = _get(r, r.b, "/api/v1/push/key", token)
    assert key.status_code == 200 and key.json()["publicKey"], key.text
    sub = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/replica-test",
        "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
    }
    made = httpx.post(
        r.url(r.b, "/api/v1/me/push-subscriptions"),
        headers={"Authorization": f"Bearer {token}"},
        json={"subscription": sub, "agent": "test"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    rows = r.rows("SELECT site, person, endpoint FROM push_subscription WHERE endpoint = $1", sub["endpoint"])
    assert [tuple(x) for x in rows] == [("c6", "p-00001", sub["endpoint"])]
    # the other replica lists it too, once it has reread the store (every 2 s here)
    wait(lambda: bool(_get(r, r.a, "/api/v1/me/push-subscriptions", token).json()["items"]), 15,
         "the phone listed by the other replica", r.a.tail)  # fmt: skip


def test_a_replica_says_a_homes_live_state_is_the_owners(replicas: Replicas) -> None:
    """No rules run on a replica: a home's live state is unknown there, never "protected"."""
    r = replicas
    token = _sign_in(r, r.a, "resident").json()["access_token"]
    homes = _get(r, r.a, "/api/v1/sites/c6/households", token)
    assert homes.status_code == 200, homes.text
    [home] = [h for h in homes.json()["items"] if "p-00001" in str(h)] or homes.json()["items"][:1]
    assert home["status"]["protected"] is None
    assert "partition owner" in home["status"]["reason"] and home["status"]["reason_zh"]


def test_the_pages_on_a_replica_never_call_an_unknown_home_safe(replicas: Replicas) -> None:
    """The resident app served by a replica, on a phone-sized Debian Chromium: the home's card says its
    state is unknown (grey, why in both languages), not 安全; the console says which households are
    unprotected is not known there, not that every household is protected."""
    from playwright.sync_api import expect, sync_playwright

    from tests.dashboards.test_report import chromium

    r = replicas
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(r.url(r.a, "/app/"))
            page.fill("input[name=username]", "resident")
            page.fill("input[name=password]", PASSWORD)
            page.click("form#signin button[type=submit]")
            home = page.locator("article.home").first
            expect(home).to_have_attribute("data-state", "unknown", timeout=30000)
            expect(home.locator(".state .word")).to_contain_text("状态未知")
            expect(home.locator(".state .why")).to_contain_text("cannot say it is safe")
            assert "安全" not in home.locator(".state .word").inner_text()
            # the console on the other replica: unprotected households unknown, not "all protected"
            console = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            console.on("pageerror", lambda e: errors.append(str(e)))
            console.goto(r.url(r.b, "/console/"))
            console.fill("form#signin input[name=username]", "ops")
            console.fill("form#signin input[name=password]", PASSWORD)
            console.click("form#signin button[type=submit]")
            expect(console.locator("#unprotected tbody")).to_contain_text("此处无法得知", timeout=30000)
            assert "所有住户都受保护" not in console.locator("#unprotected tbody").inner_text()
            assert errors == []
        finally:
            browser.close()


def test_an_acknowledgement_with_no_owner_running_is_accepted_and_applied_later(replicas: Replicas) -> None:
    """The owner stopped: the replica waits its 5 s, answers 202 with the alarm as it stands, and the
    acknowledgement, kept in the partition stream, is applied when an owner runs again."""
    r = replicas
    token = _sign_in(r, r.b, "ops").json()["access_token"]
    wait(lambda: bool(_open_alarms(r, r.b, token, "c1")), 30, "c1's alarm listed", r.owner.tail)
    [alarm] = _open_alarms(r, r.b, token, "c1")
    r.owner.stop()
    started = time.monotonic()
    taken = httpx.post(
        r.url(r.b, f"/api/v1/alarms/{alarm['alarm_id']}/acknowledge"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert taken.status_code == 202, taken.text
    assert 4.5 <= time.monotonic() - started < 20  # the replica's 5 s wait, and a loaded machine's slack
    assert taken.json()["alarm_id"] == alarm["alarm_id"] and taken.json()["state"] == "active"
    r.owner.start()
    row = "SELECT state, acked_by FROM alarm WHERE alarm_id = $1"
    wait(lambda: r.rows(row, alarm["alarm_id"])[0]["acked_by"] is not None, 40,
         "the acknowledgement applied by the restarted owner", r.owner.tail)  # fmt: skip
    assert r.rows(row, alarm["alarm_id"])[0]["state"] == "acknowledged"
