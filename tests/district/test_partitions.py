"""The district's map, without servers: a site's partition never moves, every partition has exactly one
owner among the live instances, shares are even, and a member's leaving moves only its own partitions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.district.partitions import by_partition, partition_of, share, site_subjects, subject_of, topic_of

names = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True), min_size=1, max_size=12, unique=True)


def test_a_site_has_one_partition_for_life() -> None:
    """CRC-32, not Python's salted `hash`: the same on every machine and after every restart."""
    import zlib

    assert partition_of("yanghe") == zlib.crc32(b"yanghe") % 32
    assert partition_of("yanghe", 7) == zlib.crc32(b"yanghe") % 7


@given(names, st.integers(1, 64))
def test_every_partition_has_exactly_one_owner_and_shares_are_even(
    members: list[str], partitions: int
) -> None:
    shares = [share(m, members, partitions) for m in members]
    owned = [p for s in shares for p in s]
    assert sorted(owned) == list(range(partitions))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert share("not-a-member", members, partitions) == set()


@given(names, st.integers(1, 64))
def test_a_leaving_members_partitions_all_find_a_new_owner(members: list[str], partitions: int) -> None:
    if len(members) < 2:
        return
    gone = members[-1]
    before = {p: m for m in members for p in share(m, members, partitions)}
    after = {p: m for m in members[:-1] for p in share(m, members[:-1], partitions)}
    assert set(after) == set(range(partitions)) and gone not in after.values()
    assert {p for p, m in before.items() if m == gone} <= set(after)


def test_sites_map_to_subjects_and_back() -> None:
    parts = by_partition(["c1", "c2", "c3"], 8)
    assert sorted(s for sites in parts.values() for s in sites) == ["c1", "c2", "c3"]
    assert len(parts) == 8  # empty partitions too: a site added later lands in its stream
    assert site_subjects(["c2", "c1"]) == ["guardian.c1.>", "guardian.c2.>"]
    topic = "guardian/c1/sensor/s-00001/telemetry"
    assert (
        subject_of(topic) == "guardian.c1.sensor.s-00001.telemetry" and topic_of(subject_of(topic)) == topic
    )


async def test_partitions_compiled_in_a_child_work_as_the_parents_would(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An instance compiles every partition in a child process (a district's registry parse would stay in
    its heap): each partition's index finds its own sites' devices, and only those, as if built here."""
    from gateway.config.settings import ClusterSettings, Settings
    from gateway.district.compiled import compile_partitions, compile_partitions_compact
    from simulators import estate

    (tmp_path / "sites").mkdir()
    for site in ("c1", "c2", "c3", "c4"):
        reg = estate.small_estate(site=site, buildings=1, units=2, households_per_unit=3)
        (tmp_path / "sites" / f"{site}.yaml").write_text(estate.dump(reg))
    s = Settings(
        registry=tmp_path / "sites", data_dir=tmp_path / "data", cluster=ClusterSettings(partitions=3)
    )
    child = await compile_partitions_compact(s, child_from=0)
    here = compile_partitions(s)
    assert child.keys() == here.keys() == {0, 1, 2}
    for p, part in here.items():
        assert child[p].sites == part.sites == by_partition(["c1", "c2", "c3", "c4"], 3)[p]
        assert child[p].index.ids == part.index.ids
        assert child[p].model.person_ids == part.model.person_ids
        for device in part.index.ids:
            site = next(s for s in part.sites if child[p].index.find(s, device) is not None)
            assert child[p].index.find(site, device) == part.index.find(site, device)
        for other in set(range(3)) - {p}:
            for site in here[other].sites:
                assert all(child[p].index.find(site, dev) is None for dev in here[other].index.ids)
