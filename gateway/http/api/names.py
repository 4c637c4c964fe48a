"""Names as people use them, for what the API otherwise says in ids: a rule's title from its row, a
building's name from the registry, a home as "3栋2单元1504", a person by name. Ids stay beside them, so a
client can always fall back; nothing here is a second source of truth."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.rules import RULES
from gateway.store.schema import Account, Building, Person


def rule_texts(rule: str) -> dict[str, str]:
    """The rule row's title, first action in both languages and family (the rule id where no row has it,
    and no family), so a page groups by family instead of matching id prefixes."""
    r = RULES.get(rule)
    if r is None:
        return {"title": rule, "title_zh": rule, "action": "", "action_zh": "", "family": ""}
    return {
        "title": r.title,
        "title_zh": r.title_zh,
        "action": r.action,
        "action_zh": r.action_zh,
        "family": str(r.family),
    }


def _short(child: str, parent: str) -> str:
    """A unit's id within its building, a room's within its unit ("b3-2" in "b3" is "2")."""
    return child[len(parent) + 1 :] if parent and child.startswith(parent + "-") else child


def place(building_name: str, building: str, unit: str, household: str) -> tuple[str, str]:
    """(Chinese, English) for where an alarm is: 3栋2单元1504 / 3栋, unit 2, 1504. The building by its
    registry name, unit and room by their ids within it; a numeric unit reads as 单元 / unit."""
    b = building_name or building
    if not unit and not household:
        return b, b
    u = _short(unit, building)
    room = _short(household, unit) if household else ""
    if u.isdigit():
        zh, en = f"{b}{u}单元{room}", ", ".join(x for x in (b, f"unit {u}", room) if x)
    else:
        zh = en = " ".join(x for x in (b, u, room) if x)
    return zh, en


async def building_names(
    session: AsyncSession, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    wanted = sorted({k for k in keys if k[1]})
    if not wanted:
        return {}
    q = select(Building.site, Building.id, Building.name).where(
        tuple_(Building.site, Building.id).in_(wanted)
    )
    return {(s, b): n for s, b, n in (await session.execute(q)).tuples().all() if n}


async def person_names(session: AsyncSession, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(site, person id) -> the registry's name, for the people that have one."""
    wanted = sorted({k for k in keys if k[1]})
    if not wanted:
        return {}
    q = select(Person.site, Person.id, Person.name).where(tuple_(Person.site, Person.id).in_(wanted))
    return {(s, p): n for s, p, n in (await session.execute(q)).tuples().all() if n}


def recipient_key(recipient: str | None, site: str) -> tuple[str, str]:
    """An acknowledger or a history entry names a person `site/id` (an account without a person
    `account:username`); the notifier names a person by `id` within its site."""
    if not recipient:
        return site, ""
    if recipient.startswith("account:"):
        return "account:", recipient.removeprefix("account:")
    head, _, tail = recipient.partition("/")
    return (head, tail) if tail else (site, head)


async def who_names(session: AsyncSession, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Names for `recipient_key`s: people from the registry, accounts by their own name."""
    keys = set(keys)
    accounts = sorted(u for s, u in keys if s == "account:" and u)
    out = await person_names(session, (k for k in keys if k[0] != "account:"))
    if accounts:
        q = select(Account.username, Account.name).where(Account.username.in_(accounts))
        out |= {("account:", u): n for u, n in (await session.execute(q)).tuples().all() if n}
    return out


async def labelled(session: AsyncSession, alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each alarm with its rule's texts, its building's name, its place and its acknowledger's name."""
    buildings = await building_names(session, ((a["site"], a["building"]) for a in alarms))
    people = await who_names(session, (recipient_key(a["acked_by"], a["site"]) for a in alarms))
    out = []
    for a in alarms:
        name = buildings.get((a["site"], a["building"]), "")
        zh, en = place(name, a["building"], a["unit"], a["household"])
        acked = people.get(recipient_key(a["acked_by"], a["site"]), "") if a["acked_by"] else ""
        texts = rule_texts(a["rule"])
        out.append({**a, **texts, "building_name": name, "place": en, "place_zh": zh, "acked_by_name": acked})
    return out


async def history_named(
    session: AsyncSession, site: str, history: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    names = await who_names(session, (recipient_key(h["by"], site) for h in history))
    return [{**h, "by_name": names.get(recipient_key(h["by"], site), "")} for h in history]
