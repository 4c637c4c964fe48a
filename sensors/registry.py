"""The site registry: who lives where, which devices protect them, and who must be told (docs/registry.md).

Parsing takes text, not a path, so this module stays free of I/O; `gateway.config.registry_file` reads files.
Every error names the file, the line and the field, because the people who edit these files are property
office staff with a roster, not developers.
"""

from __future__ import annotations

import datetime as dt
import gc
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sensors import yaml_events
from sensors.wire import ID_PATTERN, PSEUDONYM_PATTERN

Id = Annotated[str, Field(pattern=ID_PATTERN)]
PersonId = Annotated[str, Field(pattern=PSEUDONYM_PATTERN)]
PHONE_PATTERN = r"^(\+?[0-9][0-9 -]{1,30}[0-9])?$"
NotifyUrls = Annotated[list[str], Field(default_factory=list, description="apprise-style notification URLs")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Officer(_Model):
    id: Id
    name: str = ""
    notify: NotifyUrls


class Grid(_Model):
    id: Id
    name: str = ""
    buildings: list[Id]
    officers: list[Officer] = Field(default_factory=list)


class Contact(_Model):
    """An emergency contact (family), a property team member or a maintenance worker."""

    id: Id
    name: str = ""
    notify: NotifyUrls


JobCategory = Literal[
    "gas_smell", "detector_fault", "battery", "end_of_life", "door_fault", "welfare_visit", "repair", "other"
]
"""A work order's category (`gateway.store.order_flow.Category`, which checks the two agree)."""
ROLE_TEAMS = ("property", "maintenance", "grid")
"""Teams every site has without naming them: its property staff, its maintenance staff, a grid's officers."""


class Team(_Model):
    """A named crew that work orders are dispatched to; its members claim them from the team's pool."""

    id: Id
    name: str = ""
    members: list[Id] = Field(description="staff of this file: property, maintenance or grid officers' ids")


class DispatchRule(_Model):
    """Which team an order goes to: the most specific matching row wins (category and building, category
    and grid, category, neither: the default)."""

    category: JobCategory | None = None
    building: Id | None = None
    grid: Id | None = None
    team: Id


class Sensor(_Model):
    id: Id
    kind: Literal["co", "gas", "co_gas"]
    power: Literal["battery", "mains"] = "battery"
    installed: dt.date | None = None
    rated_life_years: float = Field(default=10.0, gt=0, le=20, description="CO cells last 7-10 years")
    model: str = ""


class Resident(_Model):
    id: PersonId = Field(description="the pseudonym door controllers use for this person")
    name: str = ""
    lives_alone: bool = False
    vulnerable: bool = Field(default=False, description="elderly, pregnant or infant: COHb rule applies")
    away: bool = False
    welfare_hours: float = Field(default=24.0, ge=12, le=48)
    notify: NotifyUrls


class Household(_Model):
    id: Id
    floor: int | None = None
    sensors: list[Sensor] = Field(default_factory=list)
    residents: list[Resident] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)


class Unit(_Model):
    id: Id
    doors: list[Id] = Field(default_factory=list)
    households: list[Household] = Field(default_factory=list)


class Building(_Model):
    id: Id
    name: str = ""
    units: list[Unit] = Field(default_factory=list)


class SiteRegistry(_Model):
    site: Id
    name: str = ""
    timezone: str = "Asia/Shanghai"
    co_profile: Literal["EN50291", "UL2034"] = "EN50291"
    phone: str = Field(
        default="",
        pattern=PHONE_PATTERN,
        description="the property desk's phone number, for the residents' call button",
    )
    grids: list[Grid] = Field(default_factory=list)
    property: list[Contact] = Field(default_factory=list)
    maintenance: list[Contact] = Field(default_factory=list)
    buildings: list[Building] = Field(default_factory=list)
    teams: list[Team] = Field(default_factory=list)
    dispatch: list[DispatchRule] = Field(default_factory=list, description="docs/work-orders.md")
    rules: dict[str, float | dict[str, float]] = Field(
        default_factory=dict, description="per-site rule settings overriding the defaults (docs/rules.md)"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def households(self) -> Iterator[tuple[Building, Unit, Household]]:
        for building in self.buildings:
            for unit in building.units:
                for household in unit.households:
                    yield building, unit, household


class RegistryError(ValueError):
    """One or more problems in a registry file, each as `file:line: field: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


Loc = tuple[str | int, ...]


def parse_registry(text: str, source: str = "<registry>", data: Any = None) -> SiteRegistry:
    """Parse and validate one site's registry YAML; raise RegistryError naming file, line and field.

    `data` is the registry already loaded, when the caller has it as data (simulated estates); `text` is then
    only used to point at lines."""
    try:
        with _collector_paused():
            if data is None:
                data = yaml_events.load(text)
            registry = SiteRegistry.model_validate(data) if isinstance(data, dict) else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark is not None else "?"
        raise RegistryError([f"{source}:{line}: not valid YAML: {exc}"]) from exc
    except ValidationError as exc:
        root = _compose(text)
        problems = [
            _problem(source, root, tuple(err["loc"]), err["msg"], err.get("input"))
            for err in exc.errors(include_url=False)
        ]
        raise RegistryError(problems) from exc
    if registry is None:
        raise RegistryError([f"{source}:1: the registry must be a mapping with a 'site' key"])
    cross = _cross_check(registry)
    if cross:
        root = _compose(text)
        raise RegistryError([_problem(source, root, loc, msg) for loc, msg in cross])
    return registry


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A district's registry parses into millions of objects, none of them cyclic garbage; with the cyclic
    collector running, its passes over them took 6.6 s of 10 for 100,000 households (measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _compose(text: str) -> yaml.Node | None:
    """The node tree, with line marks, built only when there is a problem to place: it costs 10x the load."""
    return yaml.compose(text, Loader=yaml_events.LOADER)


def _problem(source: str, root: yaml.Node | None, loc: Loc, msg: str, value: Any = None) -> str:
    line = _line_of(root, loc)
    field = ".".join(str(p) for p in loc) or "(top)"
    shown = f" (got {value!r})" if value is not None and not isinstance(value, dict | list) else ""
    return f"{source}:{line}: {field}: {msg}{shown}"


def _line_of(node: yaml.Node | None, loc: Loc) -> int:
    """Walk the composed YAML node tree along a validation path to the line of the deepest match."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if getattr(key, "value", None) == part:
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _cross_check(reg: SiteRegistry) -> list[tuple[Loc, str]]:
    """Rules that span the file: unique ids, grids naming real buildings, one grid per building."""
    problems: list[tuple[Loc, str]] = []
    seen_devices: dict[str, Loc] = {}
    seen_households: set[str] = set()
    seen_people: set[str] = set()
    building_ids = {b.id for b in reg.buildings}
    for bi, building in enumerate(reg.buildings):
        for ui, unit in enumerate(building.units):
            for di, door in enumerate(unit.doors):
                loc: Loc = ("buildings", bi, "units", ui, "doors", di)
                if door in seen_devices:
                    problems.append((loc, f"device id {door!r} is used twice"))
                seen_devices[door] = loc
            for hi, household in enumerate(unit.households):
                hloc: Loc = ("buildings", bi, "units", ui, "households", hi)
                if household.id in seen_households:
                    problems.append(((*hloc, "id"), f"household id {household.id!r} is used twice"))
                seen_households.add(household.id)
                for si, sensor in enumerate(household.sensors):
                    sloc: Loc = (*hloc, "sensors", si, "id")
                    if sensor.id in seen_devices:
                        problems.append((sloc, f"device id {sensor.id!r} is used twice"))
                    seen_devices[sensor.id] = sloc
                for ri, resident in enumerate(household.residents):
                    if resident.id in seen_people:
                        problems.append(
                            ((*hloc, "residents", ri, "id"), f"person id {resident.id!r} is used twice")
                        )
                    seen_people.add(resident.id)
    gridded: dict[str, str] = {}
    for gi, grid in enumerate(reg.grids):
        for xi, bid in enumerate(grid.buildings):
            if bid not in building_ids:
                problems.append((("grids", gi, "buildings", xi), f"no building {bid!r} in this registry"))
            elif bid in gridded:
                problems.append(
                    (("grids", gi, "buildings", xi), f"building {bid!r} is already in grid {gridded[bid]!r}")
                )
            gridded[bid] = grid.id
    problems.extend(_dispatch_problems(reg, building_ids))
    return problems


def _dispatch_problems(reg: SiteRegistry, building_ids: set[str]) -> list[tuple[Loc, str]]:
    """Teams name staff of this file; rules name buildings, grids and teams that exist, one row per case."""
    problems: list[tuple[Loc, str]] = []
    staff = {c.id for c in (*reg.property, *reg.maintenance)} | {o.id for g in reg.grids for o in g.officers}
    teams = set(ROLE_TEAMS)
    for ti, team in enumerate(reg.teams):
        if team.id in teams:
            why = "is a team every site has" if team.id in ROLE_TEAMS else "is used twice"
            problems.append((("teams", ti, "id"), f"team id {team.id!r} {why}"))
        teams.add(team.id)
        for mi, member in enumerate(team.members):
            if member not in staff:
                problems.append(
                    (("teams", ti, "members", mi), f"no staff member {member!r} in this registry")
                )
    grids = {g.id for g in reg.grids}
    cases: set[tuple[str | None, str | None, str | None]] = set()
    for ri, rule in enumerate(reg.dispatch):
        loc: Loc = ("dispatch", ri)
        if rule.building and rule.grid:
            problems.append(((*loc, "grid"), "a rule names a building or a grid, not both"))
        if (rule.building or rule.grid) and not rule.category:
            problems.append(((*loc, "category"), "a rule for a building or a grid needs its category"))
        if rule.building and rule.building not in building_ids:
            problems.append(((*loc, "building"), f"no building {rule.building!r} in this registry"))
        if rule.grid and rule.grid not in grids:
            problems.append(((*loc, "grid"), f"no grid {rule.grid!r} in this registry"))
        if rule.team not in teams:
            problems.append(((*loc, "team"), f"no team {rule.team!r}: name it under teams"))
        case = (rule.category, rule.building, rule.grid)
        if case in cases:
            problems.append((loc, "another rule already covers this case"))
        cases.add(case)
    return problems
