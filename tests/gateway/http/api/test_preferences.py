"""Notification preferences over the API of a running gateway: my own, and a person's for the site's
property staff and admins, with 422s that name the field and who may see whom as everywhere else."""

from __future__ import annotations

from tests.gateway.http.api.rig import Site

MINE = "/api/v1/me/preferences"
HERS = "/api/v1/sites/t1/people/p-00005/preferences"  # res3


def test_a_resident_reads_the_defaults_and_sets_her_own(site: Site) -> None:
    r = site.get("res3", MINE)
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["site"], p["person"], p["updated"]) == ("t1", "p-00005", None)
    assert p["language"] == "zh" and p["quiet_hours"] is None and p["channels"] == []
    assert "webpush" in p["available_channels"] and "webhook" not in p["available_channels"]
    assert {"rule": "HLT-3", "severity": "P4"}.items() <= next(
        o for o in p["optional"] if o["rule"] == "HLT-3"
    ).items()
    assert not any(o["severity"] in ("P1", "P2") for o in p["optional"])
    body = {
        "channels": ["apprise", "webpush"],
        "language": "en",
        "quiet_hours": "21:30-06:30",
        "opt_out": ["HLT-3"],
    }
    r = site.put("res3", MINE, json=body)
    assert r.status_code == 200, r.text
    back = site.get("res3", MINE).json()
    assert {k: back[k] for k in body} == body and back["updated"] is not None
    # property staff see it as she set it
    assert site.get("pm1", HERS).json()["quiet_hours"] == "21:30-06:30"


def test_refusals_name_the_field(site: Site) -> None:
    for body, says in [
        ({"channels": ["fax"]}, "channels: unknown channel 'fax'"),
        ({"quiet_hours": "9pm-7am"}, "quiet_hours:"),
        ({"quiet_hours": "22:00-24:00"}, "quiet_hours:"),
        ({"opt_out": ["HLT-3", "CO-1"]}, "opt_out: CO-1 is P1"),
        ({"opt_out": ["GAS-1"]}, "opt_out: GAS-1 is P2"),
        ({"opt_out": ["batteries"]}, "opt_out: 'batteries' is neither"),
        ({"language": "fr"}, "language:"),
    ]:
        r = site.put("off2", MINE, json=body)
        assert r.status_code == 422, (body, r.text)
        assert says in r.json()["detail"], (body, r.json())
    assert site.get("off2", MINE).json()["updated"] is None  # nothing refused was kept


def test_who_may_edit_whom(site: Site) -> None:
    body = {"language": "en"}
    assert site.put("pm1", HERS, json=body).status_code == 200
    assert site.get("admin", HERS).json()["language"] == "en"
    assert site.put("admin", HERS, json={"language": "zh"}).status_code == 200
    assert site.get("pm2", HERS).status_code == 404  # another site's property staff: no such person
    assert site.get("pm1", "/api/v1/sites/t1/people/nobody/preferences").status_code == 404
    for who in ("res1", "off1", "mnt1"):
        assert site.get(who, HERS).status_code == 403, who
        assert site.put(who, HERS, json=body).status_code == 403, who
    # staff edit their own in the console; an account naming no person has none
    assert site.put("pm1", MINE, json={"quiet_hours": "23:00-06:00"}).json()["person"] == "pm-1"
    assert site.get("off1", MINE).status_code == 200
    assert site.get("mnt1", MINE).status_code == 404 and site.get("admin", MINE).status_code == 404
    assert site.get(None, MINE).status_code == 401
