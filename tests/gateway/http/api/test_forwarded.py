"""X-Forwarded-For is believed only from configured proxies (none by default): a client on the gateway's own
machine rotating the header cannot pose as many addresses and escape the per-address sign-in throttle.

Its own estate: the test uses up loopback's failed sign-ins, which would lock the shared one's accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.http.api.rig import PASSWORD, Site, start, stop


@pytest.fixture(scope="module")
def own_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = start(tmp_path_factory.mktemp("forwarded"))
    try:
        yield s
    finally:
        stop(s)


def test_rotating_x_forwarded_for_from_loopback_does_not_escape_the_address_throttle(
    own_site: Site, tmp_path: Path
) -> None:
    token = f"{own_site.base}/api/v1/auth/token"
    for i in range(30):  # the per-address limit; each guess a made-up user, so no per-user limit is reached
        r = httpx.post(
            token,
            data={"username": f"nobody{i}", "password": "guess guess"},
            headers={"X-Forwarded-For": f"203.0.113.{i + 1}", "X-Real-IP": f"198.51.100.{i + 1}"},
        )
        assert r.status_code == 401, r.text
    r = httpx.post(
        token, data={"username": "res1", "password": PASSWORD}, headers={"X-Forwarded-For": "192.0.2.77"}
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 800, r.text
