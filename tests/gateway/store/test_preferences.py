"""Notification preferences on both back ends: a row per (site, person), replaced whole, read back as set,
and the checks that keep a P1/P2 out of anyone's opt-outs."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
from alembic import command

from gateway.errors import PreferenceRefused
from gateway.preference import Preference, check, optional_rules, quiet_window
from gateway.store.db import Store, alembic_config
from gateway.store.preferences import PreferenceTable

CHANNELS = ("webpush", "sms", "voice", "bot")


async def test_preferences_are_kept_per_person_and_replaced_whole(store: Store) -> None:
    table = PreferenceTable(store)
    assert await table.all() == [] and await table.get("t1", "p-1") is None
    mine = Preference(site="t1", person="p-1", channels=("sms", "webpush"), language="en",
                      quiet_hours="21:30-06:45", opt_out=("HLT-3", "doors"), updated=10.0)  # fmt: skip
    await table.put(mine)
    await table.put(Preference(site="t2", person="p-1", updated=11.0))  # the same id at another site
    assert await table.get("t1", "p-1") == mine
    later = Preference(site="t1", person="p-1", channels=("bot",), updated=12.0)
    await table.put(later)
    assert await table.get("t1", "p-1") == later  # language back to zh, quiet hours the site's again
    assert sorted((p.site, p.person) for p in await table.all()) == [("t1", "p-1"), ("t2", "p-1")]


def test_the_check_refuses_what_the_gateway_cannot_keep() -> None:
    base = Preference(site="t1", person="p-1")
    with pytest.raises(PreferenceRefused, match="unknown channel 'fax'") as e:
        check(Preference(site="t1", person="p-1", channels=("sms", "fax")), CHANNELS)
    assert e.value.field == "channels"
    for bad in ("22:00", "24:00-07:00", "22:00-7:00", "22:60-07:00", "evening"):
        with pytest.raises(PreferenceRefused, match="quiet_hours"):
            check(Preference(site="t1", person="p-1", quiet_hours=bad), CHANNELS)
    for urgent in ("CO-1", "GAS-1", "WEL-1"):
        with pytest.raises(PreferenceRefused, match="P1/P2 always reach you"):
            check(Preference(site="t1", person="p-1", opt_out=("HLT-3", urgent)), CHANNELS)
    with pytest.raises(PreferenceRefused, match="neither a rule nor a family"):
        check(Preference(site="t1", person="p-1", opt_out=("battery",)), CHANNELS)
    with pytest.raises(PreferenceRefused, match="language"):
        check(Preference(site="t1", person="p-1", language="fr"), CHANNELS)
    kept = check(Preference(site="t1", person="p-1", channels=("sms", "sms", "voice"),
                            quiet_hours="", opt_out=("HLT-3", "HLT-3", "co")), CHANNELS)  # fmt: skip
    assert kept.channels == ("sms", "voice") and kept.opt_out == ("HLT-3", "co") and kept.quiet_hours is None
    assert check(base, CHANNELS) == base
    assert quiet_window("23:15-06:05") == ((23, 15), (6, 5))


def test_opting_out_of_a_family_never_silences_its_urgent_rules() -> None:
    p = Preference(site="t1", person="p-1", opt_out=("co", "HLT-3"))
    assert not p.wants("CO-3", "P4") and not p.wants("HLT-3", "P4")
    assert p.wants("CO-1", "P1") and p.wants("HLT-1", "P3")
    # an alarm raised at P3 and escalated to P2 reaches even someone who opted out of its rule
    assert not p.wants("GAS-3", "P3") or p.wants("GAS-3", "P2")
    assert Preference(site="t1", person="p-1", opt_out=("GAS-3",)).wants("GAS-3", "P2")
    assert ("HLT-3", "P4") in optional_rules()
    assert all(sev in ("P3", "P4") for _, sev in optional_rules())


def test_the_migration_goes_down_and_up_again(tmp_path: Path) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'g.sqlite3'}")
    with engine.begin() as conn:
        cfg = alembic_config(conn)
        command.upgrade(cfg, "head")
        assert "preference" in sqlalchemy.inspect(conn).get_table_names()
        command.downgrade(cfg, "0003_duty_roster")
        assert "preference" not in sqlalchemy.inspect(conn).get_table_names()
        command.upgrade(cfg, "0004_preferences")
    engine.dispose()
