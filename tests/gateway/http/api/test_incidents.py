"""A real leak through a running gateway: the detector's readings rise through GAS-3, GAS-1 and GAS-2, and
the people of that home see one incident, acknowledge it once, and watch it end."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from simulators import scenarios as sc
from tests.gateway.http.api.rig import Site
from tests.support import wait_for

DEVICE, HOME = "s-00003", "b2-u1-101"  # res3 lives there


def _leak(start: float) -> Callable[[float], float]:
    """%LEL in the kitchen: a rise from 2 to 30 in under a minute, then held."""
    return lambda t: min(30.0, 2.0 + max(0.0, t - start) * 0.6)


def _after_last_reading(site: Site) -> float:
    """Device time for a new story on this detector: after every reading earlier tests sent it (the rules
    keep a late reading out of a detector's history), within the 300 s a device clock may run ahead."""
    r = site.get("pm1", f"/api/v1/sites/t1/devices/{DEVICE}")
    assert r.status_code == 200, r.text
    last = r.json().get("last_reading_ts") or 0.0
    start = max(time.time() - 300, last + 1)
    time.sleep(max(0.0, start + 200 - (time.time() + 290)))  # the whole story within the clock's allowance
    return start


def _gas_incidents(site: Site, who: str, **params: Any) -> list[dict[str, Any]]:
    r = site.get(who, "/api/v1/incidents", params={"household": HOME, **params})
    assert r.status_code == 200, r.text
    return [i for i in r.json() if i["hazard"] == "gas"]


def test_a_leak_is_one_incident_acknowledged_once(site: Site) -> None:
    start = _after_last_reading(site)
    site.publish(sc.readings(site="t1", device=DEVICE, start=start, end=start + 100, gas=_leak(start),
                             interval=(4.0, 6.0), noise=0.02, seed=7))  # fmt: skip

    found: list[dict[str, Any]] = []

    def one_leak_at_p1() -> bool:
        found[:] = _gas_incidents(site, "res3")
        return len(found) == 1 and found[0]["severity"] == "P1"

    wait_for(one_leak_at_p1, 30, 0.3, "one gas incident at P1", diagnose=site.gw.log_tail)
    [leak] = found
    rules = [a["rule"] for a in leak["alarms"]]
    assert rules[0] == "GAS-2" and "GAS-1" in rules
    assert leak["title_zh"] == "燃气泄漏" and leak["advice"]["call"] == "119"
    assert any("119" in step for step in leak["advice"]["steps_zh"])
    assert all(a["title_zh"] for a in leak["alarms"]) and leak["state"] == "active"
    assert leak["incident_id"].startswith(f"t1:{HOME}:gas:")

    # someone else's home: not theirs to see, neither in the list nor by id
    assert _gas_incidents(site, "res1") == []
    assert site.get("res1", f"/api/v1/incidents/{leak['incident_id']}").status_code == 404
    # the control room sees the same incident
    staff = site.get("pm1", f"/api/v1/incidents/{leak['incident_id']}")
    assert staff.status_code == 200 and {a["alarm_id"] for a in staff.json()["alarms"]} == {
        a["alarm_id"] for a in leak["alarms"]
    }

    # one press acknowledges every alarm of the leak
    r = site.post("res3", f"/api/v1/incidents/{leak['incident_id']}/acknowledge")
    assert r.status_code == 200, r.text
    acked = r.json()
    assert acked["state"] == "acknowledged", acked
    assert all(a["acked_ts"] is not None for a in acked["alarms"] if a["state"] != "closed")
    for a in acked["alarms"]:
        alarm = site.get("pm1", f"/api/v1/alarms/{a['alarm_id']}").json()
        assert alarm["acked_by"] is not None or alarm["state"] in ("closed", "resolved")

    # the air clears: stage 1 and 2 end (GAS-3, "rising", clears only after 5 quiet minutes), the incident
    # stays one, acknowledged, now at the severity of what is still open
    site.publish(sc.readings(site="t1", device=DEVICE, start=start + 105, end=start + 195, gas=lambda t: 0.0,
                             interval=(4.0, 6.0), noise=0.0, seq0=1000))  # fmt: skip

    def stages_over() -> bool:
        found[:] = _gas_incidents(site, "res3")
        return len(found) == 1 and found[0]["severity"] == "P3"

    wait_for(stages_over, 30, 0.3, "stage 1 and 2 over")
    [after] = found
    assert after["incident_id"] == leak["incident_id"] and after["state"] == "acknowledged"
    assert any(a["rule"] == "GAS-2" and a["state"] == "closed" for a in after["alarms"]), after["alarms"]
    for a in after["alarms"]:  # the property closes what is over
        if a["state"] == "closed":
            r = site.post("pm1", f"/api/v1/alarms/{a['alarm_id']}/resolve", json={"note": "valve replaced"})
            assert r.status_code == 200, r.text


def test_an_alarm_of_no_hazard_is_an_incident_of_one(site: Site) -> None:
    alarm = site.raise_alarm(DEVICE, "tamper", "HLT-2")
    [mine] = [
        i for i in site.get("res3", "/api/v1/incidents").json() if i["incident_id"] == alarm["alarm_id"]
    ]
    assert (
        mine["hazard"] is None and mine["advice"] is None and [a["rule"] for a in mine["alarms"]] == ["HLT-2"]
    )
    assert mine["title_zh"] == "探测器故障、被拆或被移除"
    r = site.post("res3", f"/api/v1/incidents/{alarm['alarm_id']}/acknowledge")
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    site.publish([sc.event("t1", DEVICE, time.time(), "restored", seq=int(time.time()) + 1)])
    wait_for(lambda: site.get("pm1", f"/api/v1/alarms/{alarm['alarm_id']}").json()["state"] not in
             ("active", "acknowledged"), 30, 0.3, "the detector restored")  # fmt: skip
    r = site.post("pm1", f"/api/v1/alarms/{alarm['alarm_id']}/resolve", json={"note": "cover refitted"})
    assert r.status_code == 200, r.text
    assert site.get("admin", "/api/v1/incidents/t1:nowhere:gas:1").status_code == 404
