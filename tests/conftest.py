from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from playwright.sync_api import Browser, sync_playwright

from gateway.ops import services
from simulators import estate
from tests.dashboards.test_report import ARTIFACTS, chromium
from tests.support import secured_broker

# Shared 2-core machines: timing-based health checks and deadlines would make property tests flaky.
settings.register_profile("shared", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared")


@pytest.fixture
def broker(tmp_path: Path, registry_dict: dict) -> Iterator[services.ChildServer]:
    """Mosquitto with per-device accounts and ACL, anonymous clients refused (as in the demo and a site)."""
    server = secured_broker(tmp_path, registry_dict)
    with server:
        yield server


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[services.ChildServer]:
    server = services.influxd(tmp_path / "influxdb")
    with server:
        services.wait_influx_ready(server.port)
        yield server


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[services.ChildServer]:
    """VictoriaMetrics single node keeping a year, one sample per series and millisecond (dedup)."""
    server = services.victoria_metrics(tmp_path / "victoria-metrics", retention="1y")
    with server:
        services.wait_victoria_ready(server.port)
        yield server


@pytest.fixture
def registry_dict() -> dict:
    return estate.small_estate(
        site="t1", buildings=4, units=5, households_per_unit=5
    )  # 100 sensors, 20 doors


@pytest.fixture
def registry_file(tmp_path: Path, registry_dict: dict) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(estate.dump(registry_dict))
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the page tests (one per module; a module needing other flags,
    the console's autoplay, brings its own)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
