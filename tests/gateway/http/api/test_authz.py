"""The authorisation matrix: every endpoint that takes an id, for every kind of caller, answers as the scope
rules say, and nothing of another household reaches a resident (docs/api.md, "Roles and scope")."""

from __future__ import annotations

import base64
import json
import time
import warnings
from typing import Any

import jwt
import pytest

from tests.gateway.http.api.rig import ACCOUNTS, CREW, JWT_KEY, SPARE, Site

OFFICER_BUILDINGS = {"off1": {"b1"}, "off2": {"b2"}}
RESIDENT_HOUSEHOLDS = {"res1": {"b1-u1-101"}, "fam1": {"b1-u1-101"}, "res3": {"b2-u1-101"}}
WHERE = {  # household -> building
    "b1-u1-101": "b1",
    "b1-u1-102": "b1",
    "b2-u1-101": "b2",
}
DEVICES = {"s-00001": "b1-u1-101", "s-00002": "b1-u1-102", "s-00003": "b2-u1-101"}


def sees(who: str, site: str, building: str = "", household: str = "") -> bool:
    role, home, _ = ACCOUNTS[who]
    if role == "admin":
        return True
    if home != site:
        return False
    if role in ("property", "maintenance"):
        return True
    if role == "officer":
        return building in OFFICER_BUILDINGS[who]
    return household in RESIDENT_HOUSEHOLDS[who]


def sees_building(who: str, site: str, building: str) -> bool:
    if ACCOUNTS[who][0] == "resident":
        return ACCOUNTS[who][1] == site and any(WHERE[h] == building for h in RESIDENT_HOUSEHOLDS[who])
    return sees(who, site, building)


@pytest.fixture(scope="module")
def alarms(site: Site) -> dict[str, dict[str, Any]]:
    """A CO alarm in three households: mine (res1), a neighbour's in my building, another grid's."""
    return {device: site.raise_co(device) for device in DEVICES}


CALLERS = list(ACCOUNTS)


@pytest.mark.parametrize("who", CALLERS)
def test_registry_objects_answer_by_scope(site: Site, who: str) -> None:
    cells: list[tuple[str, int, int]] = []

    def check(path: str, visible: bool) -> None:
        status = site.get(who, path).status_code
        cells.append((path, status, 200 if visible else 404))

    for s in ("t1", "t2"):
        check(f"/api/v1/sites/{s}", who == "admin" or ACCOUNTS[who][1] == s)
    for b in ("b1", "b2"):
        check(f"/api/v1/sites/t1/buildings/{b}", sees_building(who, "t1", b))
    check("/api/v1/sites/t2/buildings/b1", sees_building(who, "t2", "b1") if who != "admin" else True)
    for h, b in WHERE.items():
        check(f"/api/v1/sites/t1/households/{h}", sees(who, "t1", b, h))
    check("/api/v1/sites/t2/households/b1-u1-101", who in ("admin", "pm2"))
    for d, h in DEVICES.items():
        check(f"/api/v1/sites/t1/devices/{d}", sees(who, "t1", WHERE[h], h))
    # a door belongs to a unit, not a household: residents do not see it
    check("/api/v1/sites/t1/devices/d-b1-u1", sees(who, "t1", "b1") and ACCOUNTS[who][0] != "resident")
    check("/api/v1/sites/t1/households/no-such", False)
    wrong = [c for c in cells if c[1] != c[2]]
    assert not wrong, f"{who}: (path, got, want): {wrong}"


@pytest.mark.parametrize("who", CALLERS)
def test_alarms_answer_by_scope(site: Site, alarms: dict[str, dict[str, Any]], who: str) -> None:
    cells: list[tuple[str, int, int]] = []
    for device, alarm in alarms.items():
        h = DEVICES[device]
        visible = sees(who, "t1", WHERE[h], h)
        aid = alarm["alarm_id"]
        for method, path, body, ok in (
            ("GET", f"/api/v1/alarms/{aid}", None, 200),
            ("GET", f"/api/v1/alarms/{aid}/evidence", None, 200),
            ("POST", f"/api/v1/alarms/{aid}/comments", {"text": f"seen by {who}"}, 201),
        ):
            r = site.get(who, path) if method == "GET" else site.post(who, path, json=body)
            cells.append((f"{method} {path}", r.status_code, ok if visible else 404))
        if not visible:  # acting on what you cannot see must fail the same way
            r = site.post(who, f"/api/v1/alarms/{aid}/acknowledge")
            cells.append((f"POST ack {aid}", r.status_code, 404))
        staff = ACCOUNTS[who][0] != "resident"
        r = site.post(who, f"/api/v1/alarms/{aid}/assign", json={"assignee": None})
        cells.append((f"POST assign {aid}", r.status_code, (200 if visible else 404) if staff else 403))
    wrong = [c for c in cells if c[1] != c[2]]
    assert not wrong, f"{who}: (request, got, want): {wrong}"


@pytest.mark.parametrize("who", CALLERS)
def test_lists_hold_only_what_the_caller_may_see(
    site: Site, alarms: dict[str, dict[str, Any]], who: str
) -> None:
    """No other household's ids, people or devices anywhere in what a list returns."""
    home = ACCOUNTS[who][1]
    listing: dict[str, Any] = {}
    for path in (
        "/api/v1/sites",
        "/api/v1/sites/t1/grids",
        "/api/v1/sites/t1/buildings",
        "/api/v1/sites/t1/households",
        "/api/v1/sites/t1/devices",
        "/api/v1/alarms",
    ):
        r = site.get(who, path, params={"limit": 500})
        if home not in (None, "t1") and "/t1/" in path:
            assert r.status_code == 404, (who, path, r.status_code)
            continue
        assert r.status_code == 200, (who, path, r.text)
        listing[path] = r.json()
    text = json.dumps(listing)
    for h, b in WHERE.items():
        if not sees(who, "t1", b, h):
            assert f'"{h}"' not in text, f"{who} sees household {h}"
    for d, h in DEVICES.items():
        if not sees(who, "t1", WHERE[h], h):
            assert f'"{d}"' not in text, f"{who} sees device {d}"
    alarm_ids = {a["alarm_id"] for a in listing.get("/api/v1/alarms", {"items": []})["items"]}
    for device, alarm in alarms.items():
        h = DEVICES[device]
        assert (alarm["alarm_id"] in alarm_ids) == sees(who, "t1", WHERE[h], h), (who, device)
    # people: a resident sees their own household's residents and contacts, never another's
    if ACCOUNTS[who][0] == "resident":
        mine = next(iter(RESIDENT_HOUSEHOLDS[who]))
        body = site.get(who, f"/api/v1/sites/t1/households/{mine}").json()
        assert {p["id"] for p in body["people"]} <= {
            "p-00001",
            "p-00002",
            "c-1",
            "p-00005",
            "p-00006",
            "p-00007",
        }
    if ACCOUNTS[who][0] == "maintenance":
        body = site.get(who, "/api/v1/sites/t1/households/b1-u1-101").json()
        assert body["people"] is None  # devices, not people


@pytest.mark.parametrize("who", CALLERS)
def test_staff_list_is_for_staff_of_the_site(site: Site, who: str) -> None:
    role, home, _ = ACCOUNTS[who]
    r = site.get(who, "/api/v1/sites/t1/staff")
    if role == "resident":
        assert r.status_code == 403
    elif role == "admin" or home == "t1":
        assert r.status_code == 200
        staff = {s["username"] for s in r.json()["items"]}
        assert {"off1", "off2", "pm1", "mnt1"} <= staff <= {"off1", "off2", "pm1", "mnt1", *SPARE, *CREW}
    else:
        assert r.status_code == 404


@pytest.mark.parametrize("who", CALLERS)
def test_door_passages_are_for_property_staff(site: Site, who: str) -> None:
    role, home, _ = ACCOUNTS[who]
    r = site.get(who, "/api/v1/sites/t1/door-events")
    if role == "admin" or (role == "property" and home == "t1"):
        assert r.status_code == 200, r.text
    elif role == "property":
        assert r.status_code == 404
    else:
        assert r.status_code == 403


def _none_token(claims: dict[str, Any]) -> str:
    def b64(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def bad_tokens(site: Site) -> dict[str, str | None]:
    now = int(time.time())
    good = jwt.decode(site.tokens["admin"], options={"verify_signature": False})
    with warnings.catch_warnings():  # PyJWT warns that a 48-byte key is short for HS512: that is the point
        warnings.simplefilter("ignore")
        hs512 = jwt.encode(good, JWT_KEY, algorithm="HS512")
    return {
        "no token": None,
        "garbage": "not-a-jwt",
        "expired": site.token("admin", iat=now - 3600, exp=now - 60),
        "alg none": _none_token(good),
        "wrong key": jwt.encode(good, "another-key-of-at-least-32-bytes!!", algorithm="HS256"),
        "HS512 with the right key": hs512,
        "wrong audience": site.token("admin", aud="grafana"),
        "wrong issuer": site.token("admin", iss="someone-else"),
        "refresh token": site.refresh["admin"],
        "role claim forged": site.token("res1", role="admin"),
        "unknown user": site.token("admin", sub="mallory"),
        "no expiry": jwt.encode({k: v for k, v in good.items() if k != "exp"}, JWT_KEY),
    }


ID_PATHS = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/sites/t1"),
    ("GET", "/api/v1/sites/t1/buildings/b1"),
    ("GET", "/api/v1/sites/t1/households/b1-u1-101"),
    ("GET", "/api/v1/sites/t1/devices/s-00001"),
    ("GET", "/api/v1/sites/t1/door-events"),
    ("GET", "/api/v1/alarms"),
    ("POST", "/api/v1/alarms/{aid}/acknowledge"),
    ("POST", "/api/v1/alarms/{aid}/comments"),
    ("GET", "/api/v1/alarms/{aid}/evidence"),
    ("PUT", "/api/v1/me/away"),
]


def test_every_bad_token_is_refused_everywhere(site: Site, alarms: dict[str, dict[str, Any]]) -> None:
    aid = alarms["s-00002"]["alarm_id"]
    wrong = []
    for name, token in bad_tokens(site).items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with site.client() as c:
            for method, path in ID_PATHS:
                r = c.request(method, path.format(aid=aid), headers=headers, json={"text": "x", "away": True})
                if r.status_code != 401 or r.headers.get("www-authenticate") != "Bearer":
                    wrong.append((name, method, path, r.status_code))
                if aid in r.text or "b1-u1-102" in r.text:
                    wrong.append((name, method, path, "leaked"))
    assert not wrong, wrong
    # the alarm was not acknowledged by any of them
    assert site.get("admin", f"/api/v1/alarms/{aid}").json()["acked_ts"] is None
