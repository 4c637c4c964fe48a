"""Notification preferences in the relational store: one row per (site, person), read whole at start and
on each refresh by the notifier, written by the API. Checking them is `gateway.preference.check`'s job,
before they get here."""

from __future__ import annotations

from sqlalchemy import select

from gateway.preference import Preference
from gateway.store.db import Store
from gateway.store.schema import Preference as Row


def _value(row: Row) -> Preference:
    return Preference(
        site=row.site,
        person=row.person,
        channels=tuple(str(c) for c in row.channels),
        language=row.language,
        quiet_hours=row.quiet_hours,
        opt_out=tuple(str(o) for o in row.opt_out),
        updated=row.updated,
    )


class PreferenceTable:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def all(self) -> list[Preference]:
        """Every person's preferences (a few hundred bytes a person who set any)."""
        async with self.store.session() as session:
            return [_value(r) for r in (await session.scalars(select(Row))).all()]

    async def get(self, site: str, person: str) -> Preference | None:
        async with self.store.session() as session:
            row = await session.get(Row, (site, person))
            return None if row is None else _value(row)

    async def put(self, p: Preference) -> None:
        """Insert or replace the person's row."""
        async with self.store.session() as session, session.begin():
            row = await session.get(Row, (p.site, p.person))
            if row is None:
                row = Row(site=p.site, person=p.person)
                session.add(row)
            row.channels = list(p.channels)
            row.language = p.language
            row.quiet_hours = p.quiet_hours
            row.opt_out = list(p.opt_out)
            row.updated = p.updated
