"""Households' Home Assistant links in the relational store: one row per enrolled household, read whole
when the gateway starts and written by the API (docs/home-assistant.md). The password arrives sealed
(gateway.homeassistant.sealing) and leaves sealed; nothing here can read it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from gateway.store.db import Store
from gateway.store.schema import Device, Household
from gateway.store.schema import HomeAssistantLink as Row


@dataclass(frozen=True, slots=True, kw_only=True)
class Enrolment:
    site: str
    household: str
    host: str
    port: int
    tls: bool = False
    username: str = ""
    password_sealed: str = ""
    discovery_prefix: str = "homeassistant"
    enrolled_by: str = ""
    updated_ts: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeDevice:
    """One device of a household as the store has it: its own detectors, and its unit's doors."""

    id: str
    kind: str
    mains: bool
    model: str


def _value(r: Row) -> Enrolment:
    return Enrolment(
        site=r.site,
        household=r.household,
        host=r.host,
        port=r.port,
        tls=r.tls,
        username=r.username,
        password_sealed=r.password_sealed,
        discovery_prefix=r.discovery_prefix,
        enrolled_by=r.enrolled_by,
        updated_ts=r.updated_ts,
    )


class HomeLinkTable:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def all(self) -> list[Enrolment]:
        async with self.store.session() as session:
            return [_value(r) for r in (await session.scalars(select(Row))).all()]

    async def get(self, site: str, household: str) -> Enrolment | None:
        async with self.store.session() as session:
            row = await session.get(Row, (site, household))
            return None if row is None else _value(row)

    async def put(self, e: Enrolment) -> None:
        """Insert or replace the household's row."""
        async with self.store.session() as session, session.begin():
            row = await session.get(Row, (e.site, e.household))
            if row is None:
                row = Row(site=e.site, household=e.household)
                session.add(row)
            row.host, row.port, row.tls = e.host, e.port, e.tls
            row.username, row.password_sealed = e.username, e.password_sealed
            row.discovery_prefix, row.enrolled_by, row.updated_ts = (
                e.discovery_prefix,
                e.enrolled_by,
                e.updated_ts,
            )

    async def delete(self, site: str, household: str) -> bool:
        async with self.store.session() as session, session.begin():
            row = await session.get(Row, (site, household))
            if row is None:
                return False
            await session.delete(row)
            return True

    async def devices(self, site: str, household: str) -> list[HomeDevice]:
        """The household's detectors and the doors of its unit, by id."""
        async with self.store.session() as session:
            home = await session.get(Household, (site, household))
            if home is None:
                return []
            own = Device.household == household
            doors = (Device.kind == "door") & (Device.building == home.building) & (Device.unit == home.unit)
            rows = (
                await session.scalars(
                    select(Device).where(Device.site == site, own | doors).order_by(Device.id)
                )
            ).all()
        return [HomeDevice(id=r.id, kind=r.kind, mains=r.power == "mains", model=r.model) for r in rows]
