from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.dashboards.test_report import ARTIFACTS, chromium
from tests.gateway.http.api.rig import Site, start, stop


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One running estate for every API test (starting one takes seconds; the tests only read it or act on
    alarms they raise themselves)."""
    s = start(tmp_path_factory.mktemp("api"))
    try:
        yield s
    finally:
        stop(s)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the page tests (one per module)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
