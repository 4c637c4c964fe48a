"""A district's registry is prepared in a child process: what comes back must work exactly as what the
parent would have compiled itself, including the hashed lookups (str hashes differ between processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.rule import Audience
from gateway.config.settings import Settings
from gateway.errors import ConfigError
from gateway.runtime.prepare import prepare, prepare_compact
from simulators import estate


def settings(tmp_path: Path, text: str) -> Settings:
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "t1.yaml").write_text(text)
    return Settings(registry=tmp_path / "sites", data_dir=tmp_path / "data")


async def test_a_child_prepares_what_the_parent_would(tmp_path: Path) -> None:
    s = settings(tmp_path, estate.dump(estate.small_estate(site="t1", buildings=3, units=2)))
    child = await prepare_compact(s, child_from=0)
    here = await prepare(s)
    assert child.index.ids == here.index.ids
    assert child.model.person_ids == here.model.person_ids
    assert child.imported and not here.imported  # the child imported the site into the store; then nothing
    for p, name in enumerate(here.model.person_ids):
        site = here.model.household_where.site(int(here.model.person_household[p]))
        assert child.model.person(site, name) == p
        assert child.model.person("elsewhere", name) is None
    for h, where in enumerate(here.model.household_where):
        assert child.model.household(where.site, where.household) == h
        assert child.model.household_where[h] == where
        assert child.model.household_sensors[h] == here.model.household_sensors[h]
    for d, device in enumerate(here.index.ids):
        assert child.index.find("t1", device) == d
    first = here.model.household_where[0]
    assert (
        child.directory.members(first, Audience.RESIDENTS)
        == here.directory.members(first, Audience.RESIDENTS)
        != ()
    )


async def test_a_broken_registry_is_reported_from_the_child_with_its_line(tmp_path: Path) -> None:
    s = settings(
        tmp_path, "site: t1\nname: T\ntimezone: Asia/Shanghai\nbuildings:\n  - id: b1\n    units: 3\n"
    )
    with pytest.raises(ConfigError, match=r"t1\.yaml:6: buildings\.0\.units"):
        await prepare_compact(s, child_from=0)
