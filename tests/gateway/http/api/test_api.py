"""The API's behaviour against a real gateway: sign-in and refresh, paging, refusals with the field named,
an alarm worked from raise to resolve with its history, evidence and live stream, the away switch, and the
registry import commands."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

import httpx

from tests.gateway.http.api.rig import PASSWORD, Site, guardian
from tests.support import wait_for


def test_sign_in_refresh_and_sign_out_everywhere(site: Site) -> None:
    r = httpx.post(f"{site.base}/api/v1/auth/token", data={"username": "off2", "password": "wrong password"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = httpx.post(f"{site.base}/api/v1/auth/token", data={"username": "nobody", "password": PASSWORD})
    assert r.status_code == 401
    pair = httpx.post(
        f"{site.base}/api/v1/auth/token", data={"username": "off2", "password": PASSWORD}
    ).json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    fresh = httpx.post(f"{site.base}/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert fresh.status_code == 200
    # an access token is not a refresh token
    r = httpx.post(f"{site.base}/api/v1/auth/refresh", json={"refresh_token": pair["access_token"]})
    assert r.status_code == 401
    me = site.get(None, "/api/v1/me", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"})
    assert me.json()["role"] == "officer" and me.json()["buildings"] == ["b2"]
    r = httpx.post(
        f"{site.base}/api/v1/auth/logout", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"}
    )
    assert r.status_code == 204
    for token in (pair["refresh_token"], fresh.json()["refresh_token"]):
        r = httpx.post(f"{site.base}/api/v1/auth/refresh", json={"refresh_token": token})
        assert r.status_code == 401, "sign-out everywhere revokes every refresh token"
    for token in (pair["access_token"], fresh.json()["access_token"]):
        # and every access token at once, as a new password or a disabled account does (same version bump)
        me = site.get(None, "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401, "an access token outlived sign-out everywhere"
    again = httpx.post(
        f"{site.base}/api/v1/auth/token", data={"username": "off2", "password": PASSWORD}
    ).json()
    site.tokens["off2"], site.refresh["off2"] = (
        again["access_token"],
        again["refresh_token"],
    )  # for later tests


def test_bad_input_names_the_field_and_big_bodies_are_refused(site: Site) -> None:
    r = site.get("pm1", "/api/v1/alarms", params={"severity": "P9"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "severity"]
    r = site.get("pm1", "/api/v1/sites/t1/devices", params={"limit": 0})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]
    r = site.put("res1", "/api/v1/me/away", json={"away": "sometimes"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "away"]
    r = site.post(
        "pm1", "/api/v1/alarms/t1:CO-1:x:1/comments", content=b'{"text": "' + b"x" * 100_000 + b'"}'
    )
    assert r.status_code == 413
    # streamed without a length: counted and refused the same way
    with site.client("pm1") as c:
        r = c.post(
            "/api/v1/alarms/t1:CO-1:x:1/comments",
            content=iter([b'{"text": "', b"y" * 70_000, b'"}']),
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 413


def test_lists_page(site: Site) -> None:
    first = site.get("pm1", "/api/v1/sites/t1/devices", params={"limit": 2}).json()
    assert first["total"] == 6 and len(first["items"]) == 2 and first["next"] == 2  # 4 detectors, 2 doors
    rest = site.get("pm1", "/api/v1/sites/t1/devices", params={"limit": 10, "offset": 2}).json()
    assert rest["next"] is None
    ids = [d["id"] for d in first["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 6


def _stream(site: Site, who: str, events: list[dict[str, Any]], stop: threading.Event) -> None:
    with (
        contextlib.suppress(httpx.HTTPError),  # the gateway stopping at the end of the tests
        site.client(who) as c,
        c.stream("GET", "/api/v1/alarms/stream", timeout=None) as r,
    ):
        kind = ""
        for line in r.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "alarm":
                events.append(json.loads(line[6:]))


def test_an_alarm_worked_from_raise_to_resolve(site: Site) -> None:
    events: list[dict[str, Any]] = []
    outsider: list[dict[str, Any]] = []
    stop = threading.Event()
    for who, sink in (("pm1", events), ("off1", outsider)):
        threading.Thread(target=_stream, args=(site, who, sink, stop), daemon=True).start()
    time.sleep(1.0)
    try:
        # b2-u1-102: grid g2, the vulnerable resident living alone; device time 10 minutes ago, so the
        # clean readings that clear it can follow at once
        alarm = site.raise_co("s-00004", ago=600)
        aid = alarm["alarm_id"]
        assert alarm["severity"] == "P1" and alarm["state"] == "active" and alarm["household"] == "b2-u1-102"
        wait_for(
            lambda: any(e["alarm"]["alarm_id"] == aid for e in events), 10, 0.1, "the raise on the stream"
        )
        assert events[0]["event"] == "raised"

        # assignment: only to staff who can see it
        r = site.post("pm1", f"/api/v1/alarms/{aid}/assign", json={"assignee": "off1"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "assignee"]
        r = site.post("pm1", f"/api/v1/alarms/{aid}/assign", json={"assignee": "off2"})
        assert r.status_code == 200 and r.json()["assignee"] == "off2"
        r = site.post("off2", f"/api/v1/alarms/{aid}/comments", json={"text": "on my way, 5 min"})
        assert r.status_code == 201 and r.json()["kind"] == "comment"
        # a hazard still present cannot be resolved away
        assert site.post("off2", f"/api/v1/alarms/{aid}/resolve", json={"note": "done"}).status_code == 409

        r = site.post("off2", f"/api/v1/alarms/{aid}/acknowledge")
        assert r.status_code == 200, r.text
        acked = r.json()
        assert acked["acked_by"] == "t1/o-2" and acked["state"] in ("acknowledged", "closed")
        wait_for(
            lambda: any(e["event"] == "acknowledged" for e in events),
            10,
            0.1,
            "the acknowledgement on the stream",
        )
        # latched: it closes once the air is clean for 5 minutes (docs/standards.md §1)
        now = time.time()
        site.publish(
            [
                {
                    "topic": "guardian/t1/sensor/s-00004/telemetry",
                    "payload": {"seq": i, "ts": now - ago, "co_ppm": 0.0},
                }
                for i, ago in enumerate((590, 250, 5), start=1)
            ]
        )
        wait_for(
            lambda: site.get("off2", f"/api/v1/alarms/{aid}").json()["state"] == "closed",
            30,
            0.3,
            "the alarm closed",
        )
        r = site.post(
            "off2", f"/api/v1/alarms/{aid}/resolve", json={"note": "charcoal brazier removed, window open"}
        )
        assert r.status_code == 200 and r.json()["state"] == "resolved" and r.json()["resolved_by"] == "off2"

        detail = site.get("pm1", f"/api/v1/alarms/{aid}").json()
        kinds = [h["kind"] for h in detail["history"]]
        assert kinds[0] == "raised" and {"assigned", "comment", "acknowledged", "resolved"} <= set(kinds)
        evidence = site.get("pm1", f"/api/v1/alarms/{aid}/evidence").json()
        assert evidence["window"][0] < alarm["raised_ts"] < evidence["window"][1]
        assert evidence["readings_error"] is None
        # the registry gives these residents no phones: the alarm went out on MQTT to the site's panels
        assert {(d["channel"], d["transition"]) for d in evidence["deliveries"]} >= {("mqtt", "raised")}
        wait_for(
            lambda: any(e["event"] == "resolved" for e in events), 10, 0.1, "the resolution on the stream"
        )
        assert not any(e["alarm"]["alarm_id"] == aid for e in outsider), "grid g1's officer saw g2's alarm"
        state = site.get("pm1", "/api/v1/alarms", params={"state": "resolved"}).json()
        assert aid in {a["alarm_id"] for a in state["items"]}
    finally:
        stop.set()


def test_away_switch_reaches_the_rules_and_the_household(site: Site) -> None:
    r = site.put("res3", "/api/v1/me/away", json={"away": True})
    assert r.status_code == 200 and r.json() == {"away": True, "rules_updated": True}
    assert site.get("res3", "/api/v1/me").json()["away"] is True
    people = site.get("off2", "/api/v1/sites/t1/households/b2-u1-101").json()["people"]
    assert {p["id"]: p["away"] for p in people}["p-00005"] is True
    assert site.put("off2", "/api/v1/me/away", json={"away": True}).status_code == 403
    site.put("res3", "/api/v1/me/away", json={"away": False})


def test_household_status_and_devices(site: Site) -> None:
    h = site.get("res1", "/api/v1/sites/t1/households/b1-u1-101").json()
    assert [d["id"] for d in h["devices"]] == ["s-00001"]
    assert (h["place"], h["place_zh"]) == (
        "Building 1 u1 101",
        "Building 1 u1 101",
    )  # no numeric unit ids here
    assert set(h["status"]) == {"protected", "reason", "reason_zh", "level", "open_alarms"}
    assert {p["id"] for p in h["people"]} == {"p-00001", "p-00002", "c-1"}
    assert site.get(None, "/readyz").status_code == 200
    assert "/api/v1/alarms" in site.get(None, "/openapi.json").json()["paths"]


def test_registry_and_roster_import_report_changes_and_are_idempotent(site: Site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = site.gw.env()
    out = guardian(env, "registry", "import", str(site.gw.registry))
    assert "site t1: nothing changed" in out and "site t2: nothing changed" in out, out
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "\ufeffbuilding,unit,household,floor,resident,name,lives_alone,vulnerable\n"
        "b1,b1-u1,b1-u1-102,1,p-00003,,no,no\n"
        "b1,b1-u1,b1-u1-102,1,p-00004,,no,no\n"
        "b1,b1-u1,b1-u1-102,1,p-new,王奶奶,是,是\n",
        encoding="utf-8",
    )
    out = guardian(env, "registry", "import", str(roster), "--site", "t1")
    assert "person: +1 ~0 -0" in out, out
    out = guardian(env, "registry", "import", str(roster), "--site", "t1")
    assert "nothing changed" in out, out
    people = site.get("pm1", "/api/v1/sites/t1/households/b1-u1-102").json()["people"]
    assert {p["id"]: p["vulnerable"] for p in people}["p-new"] is True
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "building,unit,household,floor,resident,name,lives_alone,vulnerable\nb1,b1-u1,bad id,x,p,,maybe,no\n"
    )
    import subprocess
    import sys

    from tests.support import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "gateway", "registry", "import", str(bad), "--site", "t1"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert f"{bad}:2: household: not a valid id" in done.stderr and f"{bad}:2: floor" in done.stderr
    assert f"{bad}:2: lives_alone" in done.stderr


def test_push_subscriptions_of_a_signed_in_resident(site: Site) -> None:
    import base64

    key = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode().rstrip("=")
    auth = base64.urlsafe_b64encode(b"\x02" * 16).decode().rstrip("=")
    endpoint = (
        "https://push.example/abc"  # the push service the rig's gateway lists (GUARDIAN_NOTIFY__PUSH_HOSTS)
    )
    body = {"subscription": {"endpoint": endpoint, "keys": {"p256dh": key, "auth": auth}}}
    r = site.post("res1", "/api/v1/me/push-subscriptions", json={**body, "agent": "Pixel"})
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["endpoint_host"] == "push.example" and "endpoint" not in sub
    assert [s["id"] for s in site.get("res1", "/api/v1/me/push-subscriptions").json()["items"]] == [sub["id"]]
    assert site.get("res3", "/api/v1/me/push-subscriptions").json()["items"] == []
    with site.client("res3") as c:
        assert c.delete(f"/api/v1/me/push-subscriptions/{sub['id']}").status_code == 404  # not theirs
    for wrong in (
        "http://fcm.googleapis.com/fcm/send/abc",
        "https://127.0.0.1:8086/query",
        "https://push.invalid/a",
    ):
        bad = {"subscription": {"endpoint": wrong, "keys": {"p256dh": key, "auth": auth}}}
        r = site.post("res1", "/api/v1/me/push-subscriptions", json=bad)
        assert r.status_code == 422 and "push endpoint refused" in r.text, (wrong, r.text)
    with site.client("res1") as c:
        assert c.delete(f"/api/v1/me/push-subscriptions/{sub['id']}").status_code == 204
    assert site.get("res1", "/api/v1/me/push-subscriptions").json()["items"] == []


def test_repeated_wrong_passwords_are_throttled(site: Site) -> None:
    for _ in range(5):
        r = httpx.post(
            f"{site.base}/api/v1/auth/token", data={"username": "spare4", "password": "guess guess"}
        )
        assert r.status_code == 401
    # now even the right password waits: that is what stops guessing
    r = httpx.post(f"{site.base}/api/v1/auth/token", data={"username": "SPARE4", "password": PASSWORD})
    assert r.status_code == 429 and 800 < int(r.headers["retry-after"]) <= 901
    # other accounts are not locked out by it
    r = httpx.post(f"{site.base}/api/v1/auth/token", data={"username": "res3", "password": PASSWORD})
    assert r.status_code == 200


def test_even_right_passwords_are_rate_limited_per_account(site: Site) -> None:
    """Each sign-in costs an argon2 hash: a client signing in in a loop gets ten a minute, then waits."""
    token = f"{site.base}/api/v1/auth/token"
    for _ in range(10):
        assert httpx.post(token, data={"username": "spare1", "password": PASSWORD}).status_code == 200
    r = httpx.post(token, data={"username": "spare1", "password": PASSWORD})
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 61, r.text
    assert httpx.post(token, data={"username": "spare2", "password": PASSWORD}).status_code == 200
    assert httpx.get(f"{site.base}/healthz").status_code in (200, 503)


def test_an_open_alarm_stream_ends_when_its_account_is_disabled(site: Site) -> None:
    """A stream must not outlive the right to see it: within REVALIDATE (20 s) of the account's disabling
    it says `signed-out` and closes, and its token answers 401."""
    r = httpx.post(f"{site.base}/api/v1/auth/token", data={"username": "spare3", "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    lines: list[str] = []
    with httpx.Client(base_url=site.base, headers={"Authorization": f"Bearer {token}"}, timeout=40) as c:
        with c.stream("GET", "/api/v1/alarms/stream") as stream:
            events = stream.iter_lines()
            lines.append(next(events))
            guardian(site.gw.env(), "accounts", "disable", "spare3")
            disabled = time.monotonic()
            for line in events:
                lines.append(line)
                if line == "event: signed-out":
                    break
        assert lines[-1] == "event: signed-out", lines
        assert time.monotonic() - disabled <= 20 + 5
        assert c.get("/api/v1/me").status_code == 401


def test_unprotected_households_come_from_the_rules_and_respect_scope(site: Site) -> None:
    from simulators import scenarios as sc

    def unprotected(who: str) -> dict[str, str]:
        r = site.get(who, "/api/v1/sites/t1/households", params={"unprotected": "true"})
        return {h["id"]: h["status"]["reason"] for h in r.json()["items"]}

    site.publish([sc.event("t1", "s-00004", time.time(), "fault", seq=int(time.time()))])
    wait_for(
        lambda: "b2-u1-102" in unprotected("pm1"), 20, 0.3, "the faulty detector's household unprotected"
    )
    assert "s-00004 fault" in unprotected("pm1")["b2-u1-102"]
    zh = site.get("pm1", "/api/v1/sites/t1/households", params={"unprotected": "true"}).json()["items"]
    assert [(h["place_zh"], h["status"]["reason_zh"]) for h in zh] == [
        ("Building 2 u1 102", "一氧化碳：s-00004 故障；燃气：s-00004 故障")
    ]
    faulty = site.get("mnt1", "/api/v1/sites/t1/devices", params={"health": "fault"}).json()
    assert [d["id"] for d in faulty["items"]] == ["s-00004"] and faulty["total"] == 1
    ok = site.get("mnt1", "/api/v1/sites/t1/devices", params={"health": "ok"}).json()
    assert "s-00004" not in {d["id"] for d in ok["items"]} and ok["total"] == 5
    assert "b2-u1-102" in unprotected("off2") and unprotected("off1") == {}, "g1's officer sees only g1"
    page = site.get("pm1", "/api/v1/sites/t1/households", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 4 and len(page["items"]) == 1 and page["next"] == 2
    site.publish([sc.event("t1", "s-00004", time.time(), "self_test_ok", seq=int(time.time()) + 1)])
    wait_for(lambda: "b2-u1-102" not in unprotected("pm1"), 20, 0.3, "protected again after a good self-test")
