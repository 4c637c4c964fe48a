"""Work orders over the API of a running gateway, as each role uses them: a resident asks, the community
(grid officer) accepts and dispatches, the property claims and does the job, the resident verifies, the
community closes; who may see and do what; races; hostile bodies refused with 422 and nothing stored.

res1 lives in b1-u1-101 (grid g1: off1), fam1 is its family contact, res3 lives in b2-u1-101 (grid g2: off2);
pm1 is t1's property staff, mnt1 its maintenance, pm2 another site's property staff.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from gateway.store.order_flow import CLOCKS, P1_CLOCK
from simulators import scenarios as sc
from tests.gateway.http.api.rig import Site
from tests.support import influx_query, wait_for

ORDERS = "/api/v1/work-orders"


def file(site: Site, who: str, **body: Any) -> dict[str, Any]:
    body.setdefault("category", "battery")
    body.setdefault("description", "the detector chirps every minute")
    r = site.post(who, ORDERS, json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def act(
    site: Site, who: str, order: dict[str, Any], action: str, want: int = 200, **body: Any
) -> dict[str, Any]:
    r = site.post(who, f"{ORDERS}/{order['id']}/{action}", json=body)
    assert r.status_code == want, (who, action, r.status_code, r.text)
    return r.json()  # type: ignore[no-any-return]


def test_a_battery_request_from_the_resident_to_the_closed_job(site: Site) -> None:
    o = file(site, "res1", household="b1-u1-101", device="s-00001")
    assert (o["state"], o["priority"], o["building"], o["household"], o["device"]) == (
        "submitted", "P3", "b1", "b1-u1-101", "s-00001",
    )  # fmt: skip
    claim_s, resolve_s = CLOCKS["battery"]
    assert (
        o["claim_due_ts"] - o["created_ts"] == claim_s and o["resolve_due_ts"] - o["created_ts"] == resolve_s
    )
    assert o["mine"] and o["requester"] == "t1/p-00001" and o["overdue"] == []

    act(site, "off1", o, "accept")
    d = act(site, "off1", o, "dispatch", assignee="property")
    assert (d["state"], d["assignee"]) == ("dispatched", "property")
    c = act(site, "pm1", o, "claim")
    assert (c["state"], c["assignee"]) == ("claimed", "pm1") and c["claimed_ts"] is not None
    act(site, "pm1", o, "start")
    h = act(site, "pm1", o, "hold", reason="waiting for the battery model to arrive")
    assert h["state"] == "on_hold" and h["on_hold_since"] is not None and h["overdue"] == []
    r = act(site, "pm1", o, "resume")
    assert r["held_s"] >= 0 and r["resolve_due_ts"] >= o["resolve_due_ts"]  # the hold moved the clock on
    act(site, "pm1", o, "resolve", note="replaced the CR123A; tested the siren")
    v = act(site, "res1", o, "verify", rating=5)
    assert (v["state"], v["rating"], v["resolution"]) == (
        "verified",
        5,
        "replaced the CR123A; tested the siren",
    )
    closed = act(site, "off1", o, "close")
    assert closed["state"] == "closed"

    full = site.get("res1", f"{ORDERS}/{o['id']}").json()
    steps = [(e["action"], e["from_state"], e["to_state"]) for e in full["events"]]
    assert steps == [
        ("submit", "", "submitted"),
        ("accept", "submitted", "accepted"),
        ("dispatch", "accepted", "dispatched"),
        ("claim", "dispatched", "claimed"),
        ("start", "claimed", "in_progress"),
        ("hold", "in_progress", "on_hold"),
        ("resume", "on_hold", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("verify", "resolved", "verified"),
        ("close", "verified", "closed"),
    ]
    assert full["events"][5]["note"] == "waiting for the battery model to arrive"
    # each change is a point for the board and the report, the two clocks where they stopped
    q = f"""SELECT "order_id", "action", "claim_s", "resolve_s", "rating" FROM "events"."work_order" WHERE "order_id" = '{o["id"]}'"""

    def points() -> list[list[Any]]:
        return [v for s in influx_query(site.influx.port, q) for v in s["values"]]

    wait_for(lambda: len(points()) == 10, 30, message="ten work-order points")
    by_action = {p[2]: p for p in points()}
    assert sorted(by_action) == sorted(a for a, _, _ in steps)
    assert by_action["claim"][3] is not None and by_action["claim"][3] >= 0
    assert by_action["resolve"][4] is not None and by_action["verify"][5] == 5
    assert [e["actor"] for e in full["events"]][:4] == ["res1", "off1", "off1", "pm1"]
    # reopened: back to the community on fresh clocks
    again = act(site, "res1", o, "reopen", reason="it chirps again")
    assert (again["state"], again["assignee"], again["rating"]) == ("accepted", "", None)


def test_who_sees_an_order_and_who_may_move_it(site: Site) -> None:
    o = file(site, "res1", household="b1-u1-101")
    path = f"{ORDERS}/{o['id']}"
    for who in ("res3", "off2", "pm2"):  # another home, another grid, another site: as if it did not exist
        assert site.get(who, path).status_code == 404, who
        assert o["id"] not in [x["id"] for x in site.get(who, ORDERS).json()["items"]], who
        act(site, who, o, "accept", want=404)
    for who in ("res1", "fam1", "off1", "pm1", "mnt1", "admin"):
        assert site.get(who, path).status_code == 200, who
    assert site.get("mnt1", path).json()["requester"] == ""  # maintenance sees no people
    assert site.get("mnt1", path).json()["events"][0]["actor"] == ""
    assert not site.get("fam1", path).json()["mine"]

    act(site, "res1", o, "accept", want=403)  # the community accepts, not the resident
    act(site, "pm1", o, "accept", want=403)
    act(site, "pm1", o, "claim", want=409)  # nothing to claim before it is dispatched
    act(site, "off1", o, "accept")
    act(site, "off1", o, "dispatch", want=422)  # to whom?
    act(site, "off1", o, "dispatch", want=422, assignee="nobody-by-that-name")
    act(site, "off1", o, "dispatch", want=422, assignee="res1")  # a resident is no staff
    act(site, "off1", o, "dispatch", assignee="property")
    act(site, "mnt1", o, "claim", want=403)  # dispatched to the property team, not to maintenance
    act(site, "mnt1", o, "resolve", want=409, note="x")
    act(site, "pm1", o, "claim")
    act(site, "mnt1", o, "start", want=403)  # only the assignee works it
    act(site, "off1", o, "return", want=403, reason="x")
    back = act(site, "pm1", o, "return", reason="not a property job: the detector is the gas company's")
    assert (back["state"], back["assignee"]) == ("accepted", "")
    act(site, "off1", o, "dispatch", assignee="mnt1")  # to a person
    act(site, "pm1", o, "claim", want=403)
    assert act(site, "mnt1", o, "claim")["assignee"] == "mnt1"
    act(site, "mnt1", o, "resolve", want=422)  # what was done?
    act(site, "mnt1", o, "resolve", note="new detector fitted")
    act(site, "pm1", o, "verify", want=403, rating=4)  # the resident or the community verifies
    act(site, "res1", o, "verify", want=422)
    act(site, "res1", o, "verify", want=422, rating=6)


def test_only_the_person_who_asked_cancels_and_only_before_dispatch(site: Site) -> None:
    o = file(site, "res1", household="b1-u1-101", category="repair", description="kitchen door lock")
    act(site, "fam1", o, "cancel", want=403, reason="x")
    act(site, "res1", o, "cancel", want=422)
    assert act(site, "res1", o, "cancel", reason="fixed it myself")["state"] == "cancelled"
    act(site, "off1", o, "accept", want=409)
    p = file(site, "res1", household="b1-u1-101", category="repair", description="window handle")
    act(site, "off1", p, "accept")
    act(site, "off1", p, "dispatch", assignee="property")
    act(site, "res1", p, "cancel", want=409, reason="too late")


def test_a_gas_smell_is_a_p1_with_what_to_do_now(site: Site) -> None:
    o = file(
        site, "res1", household="b1-u1-101", category="gas_smell", priority="P4", description="smells of gas"
    )
    assert o["priority"] == "P1"
    assert o["claim_due_ts"] - o["created_ts"] == P1_CLOCK[0] == 15 * 60
    assert o["resolve_due_ts"] - o["created_ts"] == P1_CLOCK[1]
    assert o["advice"]["call"] == "119" and o["advice"]["steps_zh"]


def test_a_resident_files_only_for_her_own_home(site: Site) -> None:
    body = {"category": "battery", "description": "x"}
    assert site.post("res1", ORDERS, json={**body, "household": "b2-u1-101"}).status_code == 404
    assert site.post("res1", ORDERS, json={**body, "device": "s-00003"}).status_code == 404  # res3's detector
    assert (
        site.post("res1", ORDERS, json={**body, "building": "b1"}).status_code == 422
    )  # a home, not a block
    assert site.post("res1", ORDERS, json={**body, "site": "t2", "household": "b1-u1-101"}).status_code == 404
    assert (
        site.post("off2", ORDERS, json={**body, "household": "b1-u1-101"}).status_code == 404
    )  # not his grid
    door = site.post("pm1", ORDERS, json={"category": "door_fault", "description": "forced", "building": "b1",
                                          "unit": "b1-u1", "device": "d-b1-u1"})  # fmt: skip
    assert door.status_code == 201, door.text
    assert (door.json()["household"], door.json()["unit"]) == ("", "b1-u1")
    assert door.json()["id"] not in [x["id"] for x in site.get("res1", ORDERS).json()["items"]]


def test_hostile_bodies_are_refused_with_422_and_nothing_is_stored(site: Site) -> None:
    counted = {"category": "repair"}  # no alarm opens a repair: another test's alarms cannot change the count
    before = site.get("admin", ORDERS, params=counted).json()["total"]
    good = {"category": "repair", "description": "x", "household": "b1-u1-101"}
    for bad in (
        {**good, "description": "x" * 2001},
        {**good, "description": ""},
        {**good, "category": "plumbing"},
        {**good, "priority": "P0"},
        {**good, "household": "../../etc/passwd"},
        {**good, "household": 101},
        {**good, "alarm_ids": ["a"] * 21},
        {**good, "requester": "someone-else"},  # no field to claim to be another
        {**good, "state": "closed"},
    ):
        r = site.post("res1", ORDERS, json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert (
        site.post(
            "res1", ORDERS, content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert site.get("admin", ORDERS, params=counted).json()["total"] == before
    o = file(site, "res1", household="b1-u1-101")
    assert site.post("off1", f"{ORDERS}/{o['id']}/teleport", json={}).status_code == 422  # no such action
    assert site.get("res1", f"{ORDERS}/wo-x").status_code == 422
    assert site.post("off1", f"{ORDERS}/{o['id']}/accept", json={"reason": "x" * 1001}).status_code == 422
    assert site.get(None, ORDERS).status_code == 401


def test_two_claims_at_once_one_wins(site: Site) -> None:
    o = file(site, "res1", household="b1-u1-101")
    act(site, "off1", o, "accept")
    act(site, "off1", o, "dispatch", assignee="property")
    codes: list[int] = []

    def claim(who: str) -> None:
        codes.append(site.post(who, f"{ORDERS}/{o['id']}/claim", json={}).status_code)

    threads = [threading.Thread(target=claim, args=(who,)) for who in ("pm1", "admin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409], codes
    events = site.get("admin", f"{ORDERS}/{o['id']}").json()["events"]
    assert [e["action"] for e in events].count("claim") == 1


def test_the_board_lists_open_orders_first_and_filters(site: Site) -> None:
    o = file(site, "res1", household="b1-u1-101", category="end_of_life", description="10 years old")
    board = site.get("off1", ORDERS, params={"open": "true"}).json()["items"]
    assert board and all(x["state"] not in ("resolved", "verified", "closed", "cancelled") for x in board)
    dues = [x["resolve_due_ts"] for x in board]
    assert dues == sorted(dues)  # the most urgent first
    mine = site.get("off1", ORDERS, params={"category": "end_of_life", "state": ["submitted"]}).json()[
        "items"
    ]
    assert o["id"] in [x["id"] for x in mine] and all(x["category"] == "end_of_life" for x in mine)
    # alarms of other tests may have opened orders whose clocks ran out; a fresh one is never among them
    late = site.get("off1", ORDERS, params={"overdue": "true"}).json()["items"]
    assert all(x["overdue"] for x in late) and o["id"] not in [x["id"] for x in late]


def test_a_tampered_detector_gets_one_job_without_anyone_filing_it(site: Site) -> None:
    """HLT-2 raised by the running gateway's rules opens a detector-fault order for the home's detector;
    the board shows it to the property staff and to the resident of that home."""
    site.raise_alarm("s-00004", "tamper", "HLT-2")

    def jobs(who: str) -> list[dict[str, Any]]:
        r = site.get(who, ORDERS, params={"category": "detector_fault", "open": "true"})
        return [o for o in r.json()["items"] if o["device"] == "s-00004"]

    wait_for(lambda: len(jobs("pm1")) == 1, 30, message="a detector-fault order for s-00004")
    (job,) = jobs("pm1")
    assert (job["state"], job["household"], job["requester"], job["mine"]) == (
        "submitted", "b2-u1-102", "account:guardian", False,
    )  # fmt: skip
    assert job["alarm_ids"] and job["alarm_ids"][0].startswith("t1:HLT-2:s-00004")
    events = site.get("pm1", f"{ORDERS}/{job['id']}").json()["events"]
    assert [(e["action"], e["actor"]) for e in events] == [("open", "guardian")]


def test_b1s_detector_fault_goes_to_its_crew_by_the_sites_rule(site: Site) -> None:
    """t1's registry sends b1's detector faults to the fitters (m-1, signed in as fit1): the alarm's order
    waits in their pool, mnt1 (maintenance too, not a fitter) may not claim it, fit1 does; the property's
    control room moves it on with a reason, and the timeline keeps each step."""
    rules = site.get("pm1", "/api/v1/sites/t1/dispatch").json()
    assert rules["rules"] == [
        {"position": 0, "category": "detector_fault", "building": "b1", "grid": "", "team": "fitters",
         "kind": "category+building"},
    ]  # fmt: skip
    assert {"id": "fitters", "name": "探测器班 Detector crew", "members": ["m-1"], "roles": []} in rules[
        "teams"
    ]
    assert site.get("res1", "/api/v1/sites/t1/dispatch").status_code == 403
    assert site.get("pm2", "/api/v1/sites/t1/dispatch").status_code == 404
    site.raise_alarm("s-00002", "tamper", "HLT-2")

    def pool(who: str) -> list[dict[str, Any]]:
        items = site.get(who, ORDERS, params={"pool": "true"}).json()["items"]
        # other tests' gas and CO alarms on s-00002 open orders for the property's pool: not this job
        return [o for o in items if o["device"] == "s-00002" and o["category"] == "detector_fault"]

    wait_for(lambda: len(pool("fit1")) == 1, 30, message="b1's detector fault in the fitters' pool")
    (job,) = pool("fit1")
    assert (job["state"], job["assignee"], job["category"]) == ("dispatched", "fitters", "detector_fault")
    assert pool("mnt1") == [] and pool("pm1") == []
    act(site, "mnt1", job, "claim", want=403)
    act(site, "fit1", job, "claim")
    act(site, "fit1", job, "reassign", want=403, assignee="property", reason="x")
    act(site, "pm1", job, "reassign", want=422, assignee="property")
    moved = act(
        site, "pm1", job, "reassign", assignee="property", reason="the cover is broken: the estate's job"
    )
    assert (moved["state"], moved["assignee"]) == ("dispatched", "property")
    events = site.get("off1", f"{ORDERS}/{job['id']}").json()["events"]
    assert [(e["action"], e["actor"], e["to_state"]) for e in events] == [
        ("open", "guardian", "dispatched"), ("claim", "fit1", "claimed"), ("reassign", "pm1", "dispatched"),
    ]  # fmt: skip
    assert events[-1]["data"] == {"assignee": "property", "was": "fit1"} and events[-1]["note"].startswith(
        "the cover"
    )
    # the board's points say which team each change was for: the open and the claim the fitters'
    q = (
        'SELECT "order_id", "action", "late" FROM "events"."work_order" '
        f'WHERE "order_id" = \'{job["id"]}\' GROUP BY "team"'
    )
    wait_for(
        lambda: len([v for x in influx_query(site.influx.port, q) for v in x["values"]]) == 3,
        30,
        message="points",
    )
    teams = {(x["tags"]["team"], v[2], v[3]) for x in influx_query(site.influx.port, q) for v in x["values"]}
    # claimed within its four hours: not late
    assert teams == {("fitters", "open", None), ("fitters", "claim", 0), ("property", "reassign", None)}, (
        teams
    )
    # the detector back in its base: its home protected again for the tests after this one
    site.publish([sc.event("t1", "s-00002", time.time(), "restored", seq=int(time.time()) + 1)])

    def unprotected() -> set[str]:
        r = site.get("pm1", "/api/v1/sites/t1/households", params={"unprotected": "true"})
        return {h["id"] for h in r.json()["items"]}

    wait_for(lambda: "b1-u1-102" not in unprotected(), 20, 0.3, "b1-u1-102 protected again")
