"""The resident app's "report a problem" on a phone-sized Debian Chromium: res3 (b2-u1-101) asks for a new
detector battery and adds a photo, the community and the property do the job through the API, she sees it done and confirms
it with five stars; a gas smell answers at once with what to do and the number to call. The section never
shows a rule id, a priority code or a raw id; axe-core finds nothing serious in it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.gateway.http.api.rig import Site
from tests.gateway.http.api.test_order_photos import png
from tests.gateway.http.api.test_resident_app import AXE, RAW_IDS
from tests.gateway.http.api.test_resident_app import _open as open_app
from tests.support import wait_for

ORDERS = "/api/v1/work-orders"


def _open(site: Site, browser: Browser, who: str, errors: list[str]) -> Page:
    page = open_app(site, browser, who, errors)
    expect(page.locator("#orders form.report")).to_be_visible(timeout=45000)
    return page


def _staff(site: Site, who: str, order_id: str, action: str, **body: Any) -> None:
    r = site.post(who, f"{ORDERS}/{order_id}/{action}", json=body)
    assert r.status_code == 200, (who, action, r.text)


def test_a_resident_reports_a_problem_sees_it_done_and_confirms_it(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    errors: list[str] = []
    # her detector's fault has opened a job of its own too (in a thread: Playwright holds this one's loop)
    raiser = threading.Thread(target=site.raise_alarm, args=("s-00003", "tamper", "HLT-2"))
    raiser.start()
    raiser.join(60)
    page = _open(site, browser, "res3", errors)
    try:
        box = page.locator("#orders")
        box.locator("select[name=category]").select_option("battery")
        box.locator("textarea[name=description]").fill("报警器一直嘀嘀响")
        box.locator("form.report button[type=submit]").click()

        # her home may have other requests already (an alarm opens one for a faulty detector): find hers
        def mine() -> list[dict[str, Any]]:
            return [
                o for o in site.get("res3", ORDERS).json()["items"] if o["description"] == "报警器一直嘀嘀响"
            ]

        wait_for(lambda: len(mine()) == 1, 15, message="her request stored")
        order_id = mine()[0]["id"]
        item = box.locator(f"ul.orders li[data-order='{order_id}']")
        expect(item).to_have_attribute("data-state", "submitted", timeout=15000)
        expect(item).to_contain_text("已提交")
        expect(item).to_contain_text("探测器电池")
        # a photo of the detector from her phone: a real PNG through the file picker
        picture = tmp_path / "detector.png"
        picture.write_bytes(png(b"\x00\x80\x00"))
        item.locator("input[data-photo]").set_input_files(str(picture))
        expect(item.locator(".photos")).to_contain_text("1 张照片", timeout=15000)
        assert [p["size"] for p in site.get("pm1", f"{ORDERS}/{order_id}/photos").json()["items"]] == [
            len(picture.read_bytes())
        ]

        _staff(site, "off2", order_id, "accept")
        _staff(site, "off2", order_id, "dispatch", assignee="property")
        _staff(site, "pm1", order_id, "claim")
        _staff(site, "pm1", order_id, "resolve", note="换了新电池，试过报警声")
        page.reload()
        done = page.locator(f"#orders li[data-order='{order_id}']")
        expect(done).to_have_attribute("data-state", "resolved", timeout=45000)
        expect(done).to_contain_text("已处理，请确认")
        expect(done).to_contain_text("换了新电池，试过报警声")
        done.locator("button[data-rating='5']").click()
        expect(done).to_have_attribute("data-state", "verified", timeout=15000)
        assert site.get("res3", f"{ORDERS}/{order_id}").json()["rating"] == 5

        # a gas smell: what to do now, and the number to call
        box.locator("select[name=category]").select_option("gas_smell")
        box.locator("textarea[name=description]").fill("厨房有燃气味")
        box.locator("form.report button[type=submit]").click()
        advice = box.locator(".advice")
        expect(advice).to_be_visible(timeout=15000)
        expect(advice.locator("a[href='tel:119']")).to_be_visible()
        gas = [o for o in site.get("res3", ORDERS).json()["items"] if o["description"] == "厨房有燃气味"]
        assert gas and gas[0]["priority"] == "P1"

        text = page.locator("#orders-box").inner_text()
        for raw in RAW_IDS:
            assert not raw.search(text), (raw.pattern, text)
        page.add_script_tag(path=str(AXE))
        found = page.evaluate(
            "async () => (await axe.run('#orders-box')).violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
        )
        assert found == [], found
        assert errors == []
    finally:
        page.close()
