"""Loading a site into the store from its registry YAML: at gateway start when the file changed, or by hand.

Idempotent (`gateway.store.upsert`): importing the same file twice reports nothing changed. A registry
replaces the whole site (what it no longer names is removed), residents a roster import gave included
(`gateway.store.roster`). What people set through the API (the away flag) survives it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from gateway.store.db import Store
from gateway.store.schema import (
    Base,
    Building,
    Device,
    DispatchRule,
    Grid,
    Household,
    Meta,
    Person,
    Site,
    Team,
)
from gateway.store.upsert import Changes, analyze, person_row, sync_rows
from sensors.registry import SiteRegistry


def _registry_rows(reg: SiteRegistry) -> dict[type[Base], list[dict[str, Any]]]:
    s = reg.site
    grid_of = {b: g.id for g in reg.grids for b in g.buildings}
    rows: dict[type[Base], list[dict[str, Any]]] = {
        Site: [
            {
                "id": s,
                "name": reg.name,
                "timezone": reg.timezone,
                "co_profile": reg.co_profile,
                "phone": reg.phone,
            }
        ],
        Grid: [{"site": s, "id": g.id, "name": g.name} for g in reg.grids],
        Building: [{"site": s, "id": b.id, "name": b.name, "grid": grid_of.get(b.id)} for b in reg.buildings],
        Household: [],
        Device: [],
        Person: [],
        Team: [{"site": s, "id": t.id, "name": t.name, "members": list(t.members)} for t in reg.teams],
        DispatchRule: [
            {
                "site": s,
                "position": i,
                "category": r.category or "",
                "building": r.building or "",
                "grid": r.grid or "",
                "team": r.team,
            }
            for i, r in enumerate(reg.dispatch)
        ],
    }
    people = rows[Person]

    def person(role: str, place: str, p: Any, **flags: bool) -> None:
        people.append(person_row(s, role, place, p.id, p.name, p.notify, **flags))

    for g in reg.grids:
        for o in g.officers:
            person("officer", g.id, o)
    for c in reg.property:
        person("property", "", c)
    for c in reg.maintenance:
        person("maintenance", "", c)
    for b in reg.buildings:
        for u in b.units:
            for door in u.doors:
                rows[Device].append(
                    {"site": s, "id": door, "kind": "door", "building": b.id, "unit": u.id, "household": ""}
                )
            for h in u.households:
                rows[Household].append(
                    {"site": s, "id": h.id, "building": b.id, "unit": u.id, "floor": h.floor}
                )
                for d in h.sensors:
                    rows[Device].append(
                        {
                            "site": s,
                            "id": d.id,
                            "kind": d.kind,
                            "building": b.id,
                            "unit": u.id,
                            "household": h.id,
                            "power": d.power,
                            "installed": d.installed.isoformat() if d.installed else "",
                            "model": d.model,
                        }
                    )
                for r in h.residents:
                    person(
                        "resident", h.id, r, lives_alone=r.lives_alone, vulnerable=r.vulnerable, away=r.away
                    )
                for c in h.contacts:
                    person("contact", h.id, c)
    return rows


async def import_registry(store: Store, reg: SiteRegistry) -> Changes:
    """The store's copy of one site made equal to its registry, in one transaction."""
    changes = Changes()
    async with store.session() as session, session.begin():
        for model, rows in _registry_rows(reg).items():
            scope = model.id == reg.site if model is Site else model.site == reg.site  # type: ignore[attr-defined]
            await sync_rows(session, model, rows, scope, changes)
    if changes.any:
        await analyze(store)
    return changes


async def sync_registries(store: Store, registries: Iterable[SiteRegistry]) -> dict[str, Changes | None]:
    """At gateway start: each site imported when its registry changed since the last import (None: same)."""
    out: dict[str, Changes | None] = {}
    for reg in registries:
        digest = _digest(reg)
        key = f"registry:{reg.site}"
        async with store.session() as session:
            meta = await session.get(Meta, key)
        if meta is not None and meta.value == digest:
            out[reg.site] = None
            continue
        out[reg.site] = await import_registry(store, reg)
        async with store.session() as session, session.begin():
            await session.merge(Meta(key=key, value=digest))
            # the new registry replaced the site's residents, roster imports included
            roster = await session.get(Meta, f"roster:{reg.site}")
            if roster is not None:
                await session.delete(roster)
    return out


def _digest(reg: SiteRegistry) -> str:
    """Building by building: a district's registry as one JSON string would be tens of MB at once."""
    h = hashlib.sha256(reg.model_dump_json(exclude={"buildings"}).encode())
    for b in reg.buildings:
        h.update(b.model_dump_json().encode())
    return h.hexdigest()


async def away_flags(store: Store) -> list[tuple[str, str, bool]]:
    """(site, person, away) of residents who set "I'm away" in the app: the rules start with their word."""
    async with store.session() as session:
        rows = await session.execute(
            select(Person.site, Person.id, Person.away).where(
                Person.role == "resident", Person.away_set_ts.is_not(None)
            )
        )
        return [(s, p, bool(a)) for s, p, a in rows.tuples().all()]
