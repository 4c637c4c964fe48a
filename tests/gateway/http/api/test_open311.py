"""Open311 GeoReport v2 over the work orders, as a city platform's client calls it: form-encoded POSTs with
an `api_key`, JSON lists back, the spec's field names and `{code, description}` errors; and the same scopes
as the rest of the API (a request names a home)."""

from __future__ import annotations

import datetime as dt

import httpx

from gateway.store.order_flow import CATEGORIES
from tests.gateway.http.api.rig import Site

BASE = "/open311/v2"
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
}  # fmt: skip


def raw(site: Site) -> httpx.Client:
    return httpx.Client(base_url=site.base, timeout=30)


def test_services_list_every_category_as_the_spec_has_them(site: Site) -> None:
    with raw(site) as c:
        r = c.get(f"{BASE}/services.json", params={"api_key": site.tokens["pm1"]})
    assert r.status_code == 200, r.text
    services = r.json()
    assert [s["service_code"] for s in services] == list(CATEGORIES)
    for s in services:
        assert {
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        } <= set(s)
        assert s["metadata"] is False and s["type"] in ("realtime", "batch", "blackbox")


def test_a_request_posted_with_an_api_key_is_a_work_order_and_reads_back(site: Site) -> None:
    with raw(site) as c:
        r = c.post(
            f"{BASE}/requests.json",
            data={"api_key": site.tokens["res1"], "service_code": "battery", "description": "chirping",
                  "address_id": "b1-u1-101"},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        [made] = r.json()
        rid = made["service_request_id"]
        assert set(made) >= {"service_request_id", "service_notice"}
        r = c.get(f"{BASE}/requests/{rid}.json", headers={"Authorization": f"Bearer {site.tokens['res1']}"})
        assert r.status_code == 200, r.text
        [one] = r.json()
        assert set(one) == REQUEST_FIELDS
        assert (one["status"], one["service_code"], one["address_id"], one["status_notes"]) == (
            "open", "battery", "b1-u1-101", "submitted",
        )  # fmt: skip
        requested = dt.datetime.fromisoformat(one["requested_datetime"])
        assert requested.utcoffset() == dt.timedelta(hours=8)  # the site's time zone, Asia/Shanghai
        assert one["expected_datetime"] is not None
        # the same order through our own API
        assert site.get("off1", f"/api/v1/work-orders/{rid}").json()["category"] == "battery"
        listed = c.get(
            f"{BASE}/requests.json", params={"api_key": site.tokens["off1"], "service_request_id": rid}
        )
        assert [x["service_request_id"] for x in listed.json()] == [rid]
        assert (
            site.post("res1", f"/api/v1/work-orders/{rid}/cancel", json={"reason": "fixed"}).status_code
            == 200
        )
        closed = c.get(
            f"{BASE}/requests.json", params={"api_key": site.tokens["off1"], "status": "closed"}
        ).json()
        assert rid in [x["service_request_id"] for x in closed]
        still = c.get(
            f"{BASE}/requests.json", params={"api_key": site.tokens["off1"], "status": "open"}
        ).json()
        assert rid not in [x["service_request_id"] for x in still]
        assert next(x for x in closed if x["service_request_id"] == rid)["expected_datetime"] is None


def test_scopes_and_errors_are_the_specs_shape(site: Site) -> None:
    with raw(site) as c:
        r = c.post(f"{BASE}/requests.json", data={"api_key": site.tokens["res1"], "service_code": "repair",
                                                  "description": "hinge", "address_id": "b1-u1-101"})  # fmt: skip
        rid = r.json()[0]["service_request_id"]
        for who in ("res3", "off2", "pm2"):
            r = c.get(f"{BASE}/requests/{rid}.json", params={"api_key": site.tokens[who]})
            assert r.status_code == 404 and r.json()[0]["code"] == 404, (who, r.text)
            listed = c.get(
                f"{BASE}/requests.json", params={"api_key": site.tokens[who], "service_request_id": rid}
            )
            assert listed.json() == [], who
        assert c.get(f"{BASE}/requests.json").status_code == 401
        assert c.get(f"{BASE}/requests.json", params={"api_key": "forged"}).status_code == 401
        bad = c.post(f"{BASE}/requests.json", data={"api_key": site.tokens["res1"], "service_code": "pothole",
                                                    "description": "x", "address_id": "b1-u1-101"})  # fmt: skip
        assert bad.status_code == 400 and bad.json()[0]["code"] == 400
        other = c.post(f"{BASE}/requests.json", data={"api_key": site.tokens["res1"], "service_code": "repair",
                                                      "description": "x", "address_id": "b2-u1-101"})  # fmt: skip
        assert other.status_code == 404  # not her home
        when = c.get(
            f"{BASE}/requests.json", params={"api_key": site.tokens["off1"], "start_date": "yesterday"}
        )
        assert when.status_code == 400 and "start_date" in when.json()[0]["description"]
