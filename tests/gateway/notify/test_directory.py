"""Audiences resolve to the right people through the registry."""

from __future__ import annotations

from alerts.rule import Audience
from alerts.signals import Where
from gateway.notify.directory import Directory
from sensors.registry import SiteRegistry
from simulators import scenarios


def test_audiences_resolve_through_the_registry_and_door_alarms_reach_the_whole_unit() -> None:
    reg = scenarios.registry(residents=[{"id": "p-1", "notify": ["ntfy://x/p1"]}, {"id": "p-2"}])
    unit = reg["buildings"][0]["units"][0]
    unit["households"].append({"id": "b1-u1-102", "residents": [{"id": "p-3"}], "contacts": []})
    reg["property"] = [{"id": "pm-1", "notify": ["mailto://pm@example.org"]}]
    d = Directory([SiteRegistry.model_validate(reg)])
    R, EC, PM, GO, MT = Audience
    home = Where("t1", "b1", "b1-u1", "b1-u1-101")
    people = d.resolve(home, (R, EC, GO, PM, MT))
    assert [(p.id, p.audience, p.at_home) for p in people] == [
        ("p-1", R, True),
        ("p-2", R, True),
        ("c-1", EC, True),
        ("o-1", GO, False),
        ("pm-1", PM, False),
    ]
    assert people[0].urls == ("ntfy://x/p1",) and people[1].urls == ()
    door = Where("t1", "b1", "b1-u1", "")
    assert [p.id for p in d.resolve(door, (R,))] == ["p-1", "p-2", "p-3"]
    assert d.resolve(Where("t1", "b9", "b9-u1", ""), (R, GO)) == []
    assert (
        d.knows("t1", "p-3")
        and d.knows("t1", "pm-1")
        and not d.knows("t1", "p-9")
        and not d.knows("t2", "p-1")
    )
