"""The duty roster through the API of a running gateway: shifts in the site's local time (a night shift
across midnight), the refusals with their reasons, who is on duty at a time, and a hand-over, each as the
roles the issue names may do it."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from tests.gateway.http.api.rig import Site

SHIFTS = "/api/v1/sites/t1/duty/shifts"
NOW = "/api/v1/sites/t1/duty/now"
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def shift(
    person: str, start: str, end: str, grid: str | None = "g1", role: str = "officer"
) -> dict[str, Any]:
    return {"role": role, "grid": grid, "person": person, "start": start, "end": end, "note": "test"}


def on_duty(site: Site, who: str, at: str) -> dict[str | None, dict[str, Any]]:
    r = site.get(who, NOW, params={"at": at})
    assert r.status_code == 200, r.text
    return {d["grid"] or d["role"]: d for d in r.json()}


def test_a_night_shift_in_local_time_is_who_is_on_duty_at_three(site: Site) -> None:
    r = site.post("pm1", SHIFTS, json=shift("o-1", "2031-03-01T22:00", "2031-03-02T06:00"))
    assert r.status_code == 201, r.text
    night = r.json()
    assert (night["start"], night["end"]) == ("2031-03-01T22:00:00+08:00", "2031-03-02T06:00:00+08:00")
    assert night["created_by"] == "pm1" and night["grid"] == "g1"
    # an offset given is taken as given: 19:00 UTC is 03:00 in Changsha
    duty = on_duty(site, "pm1", "2031-03-01T19:00:00Z")
    assert duty["g1"]["rostered"] and duty["g1"]["on_duty"] == ["o-1"]
    assert [s["id"] for s in duty["g1"]["shifts"]] == [night["id"]]
    # nobody rostered: everyone of the grid or desk is on duty, and it says so
    assert not duty["g2"]["rostered"] and duty["g2"]["on_duty"] == ["o-2"]
    assert not duty["property"]["rostered"] and duty["property"]["on_duty"] == ["pm-1"]
    later = on_duty(site, "pm1", "2031-03-02T06:00")
    assert not later["g1"]["rostered"] and later["g1"]["on_duty"] == ["o-1", "o-3"]
    listed = site.get("off1", SHIFTS, params={"since": "2031-03-01T00:00", "until": "2031-03-03T00:00"})
    assert [s["id"] for s in listed.json()["items"]] == [night["id"]]
    assert site.delete("pm1", f"{SHIFTS}/{night['id']}").status_code == 204
    assert site.delete("pm1", f"{SHIFTS}/{night['id']}").status_code == 404
    assert on_duty(site, "pm1", "2031-03-02T03:00")["g1"]["rostered"] is False


def test_shifts_that_cannot_be_are_refused_with_the_reason(site: Site) -> None:
    ok = site.post("pm1", SHIFTS, json=shift("o-3", "2031-04-01T08:00", "2031-04-01T16:00"))
    assert ok.status_code == 201, ok.text
    refused = {
        "ends before": shift("o-1", "2031-04-01T08:00", "2031-04-01T08:00"),
        "overlaps": shift("o-3", "2031-04-01T15:00", "2031-04-01T20:00"),
        "other grid": shift("o-2", "2031-04-01T08:00", "2031-04-01T16:00"),
        "unknown": shift("o-99", "2031-04-01T08:00", "2031-04-01T16:00"),
        "resident": shift("p-00001", "2031-04-01T08:00", "2031-04-01T16:00", grid=None, role="property"),
        "no grid": shift("o-1", "2031-04-01T08:00", "2031-04-01T16:00", grid=None),
    }
    why = {}
    for name, body in refused.items():
        r = site.post("pm1", SHIFTS, json=body)
        assert r.status_code == 422, (name, r.text)
        why[name] = r.json()["detail"]
    assert why["ends before"] == "the shift must end after it starts"
    assert f"already on shift {ok.json()['id']}" in why["overlaps"]
    assert why["other grid"] == "'o-2' is not an officer of grid 'g1'"
    assert why["unknown"] == "'o-99' is not an officer of grid 'g1'"
    assert why["resident"] == "'p-00001' is not property staff of the site"
    assert why["no grid"] == "an officer's shift names its grid"
    assert site.delete("pm1", f"{SHIFTS}/{ok.json()['id']}").status_code == 204


def test_who_may_read_edit_and_hand_over(site: Site) -> None:
    body = shift("o-2", "2031-05-01T08:00", "2031-05-01T16:00", grid="g2")
    assert site.post("off2", SHIFTS, json=body).status_code == 403  # officers read, they do not roster
    assert site.post("mnt1", SHIFTS, json=body).status_code == 403
    assert site.post("res1", SHIFTS, json=body).status_code == 403
    assert site.post("pm2", SHIFTS, json=body).status_code == 404  # another site's staff
    assert site.get("res1", NOW).status_code == 403
    made = site.post("admin", SHIFTS, json=body)
    assert made.status_code == 201, made.text
    window = {"since": "2031-05-01T00:00", "until": "2031-05-02T00:00"}
    assert [s["person"] for s in site.get("off2", SHIFTS, params=window).json()["items"]] == ["o-2"]
    assert site.get("off1", SHIFTS, params=window).json()["items"] == []  # g2's roster is not g1's business
    assert set(on_duty(site, "off1", "2031-05-01T09:00")) == {"g1", "property", "maintenance"}
    people = site.get("off1", "/api/v1/sites/t1/duty/people").json()["items"]
    assert {(p["role"], p["grid"], p["id"]) for p in people} >= {
        ("officer", "g1", "o-3"),
        ("property", None, "pm-1"),
    }
    assert not any(p["id"] == "o-2" for p in people)
    assert site.delete("off2", f"{SHIFTS}/{made.json()['id']}").status_code == 403
    assert site.delete("admin", f"{SHIFTS}/{made.json()['id']}").status_code == 204


def test_an_officer_hands_the_rest_of_their_shift_to_a_colleague(site: Site) -> None:
    now = dt.datetime.now(ZONE).replace(microsecond=0, tzinfo=None)
    body = shift("o-1", (now - dt.timedelta(hours=2)).isoformat(), (now + dt.timedelta(hours=3)).isoformat())
    running = site.post("pm1", SHIFTS, json=body).json()
    url = f"{SHIFTS}/{running['id']}/hand-over"
    assert site.post("off2", url, json={"to": "o-3"}).status_code == 404  # not a shift of their grids
    assert site.post("off1", url, json={"to": "o-2", "note": "x"}).status_code == 422  # another grid's
    r = site.post("off1", url, json={"to": "o-3", "note": "called to a fire drill"})
    assert r.status_code == 200, r.text
    ended, started = r.json()["ended"], r.json()["started"]
    assert ended["end"] == started["start"] and started["end"] == running["end"]
    assert started["person"] == "o-3" and started["handed_from"] == running["id"]
    assert started["note"] == "called to a fire drill" and started["created_by"] == "off1"
    handed = dt.datetime.fromisoformat(started["start"]).replace(tzinfo=None)
    assert abs((handed - now).total_seconds()) < 60
    duty = on_duty(site, "off1", (now + dt.timedelta(minutes=5)).isoformat())
    assert duty["g1"]["on_duty"] == ["o-3"]
    # o-3's shift is no longer o-1's to hand over
    assert site.post("off1", f"{SHIFTS}/{started['id']}/hand-over", json={"to": "o-1"}).status_code == 403
    for s in (ended, started):
        assert site.delete("pm1", f"{SHIFTS}/{s['id']}").status_code == 204
