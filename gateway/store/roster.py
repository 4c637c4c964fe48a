"""A property office's CSV roster: read with every problem on its line, imported over the households it
lists, and laid over the registries at start so the rules begin from what the office said.

A roster replaces the residents of the households it lists and leaves every other household alone; the
next registry import replaces the site again, roster included (`gateway.store.registry_import`).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from typing import Any

from sqlalchemy import select

from gateway.errors import RosterError
from gateway.store.db import Store
from gateway.store.schema import Building, Household, Meta, Person, Site
from gateway.store.upsert import Changes, analyze, person_row, sync_rows
from sensors.registry import Household as RegistryHousehold
from sensors.registry import Resident, SiteRegistry
from sensors.wire import ID_PATTERN, PSEUDONYM_PATTERN

log = logging.getLogger(__name__)


ROSTER_COLUMNS = ("building", "unit", "household", "floor", "resident", "name", "lives_alone", "vulnerable")
"""Required header; an optional `notify` column holds space-separated notification URLs."""

_TRUE = {"1", "y", "yes", "true", "是"}
_FALSE = {"", "0", "n", "no", "false", "否"}


def parse_roster(text: str, source: str = "<roster>") -> list[dict[str, str]]:
    """Rows of a roster CSV (UTF-8, with or without the BOM Excel writes), each problem with its line."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ROSTER_COLUMNS if c not in header]
    if missing:
        raise RosterError([f"{source}:1: missing columns {missing} (need {', '.join(ROSTER_COLUMNS)})"])
    ids, people = re.compile(ID_PATTERN), re.compile(PSEUDONYM_PATTERN)
    rows: list[dict[str, str]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        for col in ("building", "unit", "household"):
            if not ids.fullmatch(row[col]):
                problems.append(f"{source}:{line}: {col}: not a valid id (got {row[col]!r})")
        if row["resident"] and not people.fullmatch(row["resident"]):
            problems.append(f"{source}:{line}: resident: not a valid pseudonym (got {row['resident']!r})")
        if row["resident"] in seen:
            problems.append(f"{source}:{line}: resident: {row['resident']!r} is listed twice")
        seen.add(row["resident"])
        if row["floor"] and not row["floor"].lstrip("-").isdigit():
            problems.append(f"{source}:{line}: floor: not a whole number (got {row['floor']!r})")
        for col in ("lives_alone", "vulnerable"):
            if row[col].lower() not in _TRUE | _FALSE:
                problems.append(f"{source}:{line}: {col}: yes or no (got {row[col]!r})")
        rows.append(row)
    if problems:
        raise RosterError(problems)
    return rows


async def import_roster(store: Store, site: str, rows: list[dict[str, str]]) -> Changes:
    """Households the roster lists get exactly its residents; households and buildings it names that the
    store lacks are added (the registry file should follow: the rules read it at start)."""
    changes = Changes()
    async with store.session() as session, session.begin():
        if await session.get(Site, site) is None:
            raise RosterError([f"no site {site!r} in the store: import its registry first"])
        buildings = {r["building"] for r in rows}
        known = set((await session.scalars(select(Building.id).where(Building.site == site))).all())
        for b in sorted(buildings - known):
            session.add(Building(site=site, id=b, name="", grid=None))
        changes.add("building", len(buildings - known), 0, 0)
        households: dict[str, dict[str, Any]] = {}
        residents: list[dict[str, Any]] = []
        for r in rows:
            households[r["household"]] = {
                "site": site,
                "id": r["household"],
                "building": r["building"],
                "unit": r["unit"],
                "floor": int(r["floor"]) if r["floor"] else None,
            }
            if r["resident"]:
                residents.append(
                    person_row(
                        site,
                        "resident",
                        r["household"],
                        r["resident"],
                        r["name"],
                        r.get("notify", "").split(),
                        lives_alone=r["lives_alone"].lower() in _TRUE,
                        vulnerable=r["vulnerable"].lower() in _TRUE,
                    )
                )
        listed = list(households)
        moved = (
            await session.execute(
                select(Person.id, Person.place).where(
                    Person.site == site,
                    Person.role == "resident",
                    Person.id.in_([r["id"] for r in residents]),
                    Person.place.not_in(listed),
                )
            )
        ).all()
        if moved:
            raise RosterError(
                [
                    f"resident {pid!r} lives in {place!r}, which this roster does not list: "
                    "list that household too (without them), so nobody is in two homes"
                    for pid, place in moved
                ]
            )
        await sync_rows(
            session,
            Household,
            households.values(),
            (Household.site == site) & Household.id.in_(listed),
            changes,
        )
        await sync_rows(
            session,
            Person,
            residents,
            (Person.site == site) & (Person.role == "resident") & Person.place.in_(listed),
            changes,
        )
        if changes.any:  # the rules take the roster's residents at the next start (roster_overlay)
            await session.merge(Meta(key=f"roster:{site}", value="1"))
    if changes.any:
        await analyze(store)
    return changes


async def roster_overlay(store: Store, registries: list[SiteRegistry]) -> list[SiteRegistry]:
    """The registries with the residents a roster import gave their households since the registry file was
    last imported, so the rules (vulnerable, lives alone, who is away) start from what the property office
    said. Only households that exist in the registry (with their detectors) are changed; a resident a
    roster names whom the registry keeps in another household is left out, with a warning."""
    out: list[SiteRegistry] = []
    for reg in registries:
        async with store.session() as session:
            if await session.get(Meta, f"roster:{reg.site}") is None:
                out.append(reg)
                continue
            rows = (
                await session.scalars(
                    select(Person).where(Person.site == reg.site, Person.role == "resident")
                )
            ).all()
        stored: dict[str, list[Person]] = {}
        for p in rows:
            stored.setdefault(p.place, []).append(p)
        out.append(_overlay(reg, stored))
    return out


def _overlay(reg: SiteRegistry, stored: dict[str, list[Person]]) -> SiteRegistry:
    elsewhere = {r.id: h.id for _, _, h in reg.households() for r in h.residents}
    changed = 0

    def household(h: RegistryHousehold) -> RegistryHousehold:
        nonlocal changed
        residents = _roster_residents(h, stored.get(h.id, []), elsewhere)
        if sorted(map(_resident_key, residents)) == sorted(map(_resident_key, h.residents)):
            return h
        changed += 1
        return h.model_copy(update={"residents": residents})

    buildings = [
        b.model_copy(
            update={
                "units": [
                    u.model_copy(update={"households": [household(h) for h in u.households]}) for u in b.units
                ]
            }
        )
        for b in reg.buildings
    ]
    if changed:
        log.info("site %s: %d household(s) take their residents from the roster import", reg.site, changed)
    return reg.model_copy(update={"buildings": buildings})


def _resident_key(r: Resident) -> tuple[Any, ...]:
    return (r.id, r.name, r.lives_alone, r.vulnerable, tuple(r.notify))


def _roster_residents(
    h: RegistryHousehold, people: list[Person], elsewhere: dict[str, str]
) -> list[Resident]:
    """The household's residents as the store has them; the registry's welfare interval is kept."""
    before = {r.id: r for r in h.residents}
    out = []
    for p in sorted(people, key=lambda p: p.id):
        if elsewhere.get(p.id, h.id) != h.id:
            log.warning("roster: %s is in %s in the registry, not %s; left out", p.id, elsewhere[p.id], h.id)
            continue
        kept = {"welfare_hours": before[p.id].welfare_hours} if p.id in before else {}
        out.append(
            Resident(
                id=p.id,
                name=p.name,
                lives_alone=p.lives_alone,
                vulnerable=p.vulnerable,
                away=p.away,
                notify=list(p.notify),
                **kept,
            )
        )
    return out
