from __future__ import annotations

from collections.abc import Iterator

import pytest

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
