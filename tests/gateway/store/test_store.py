"""The relational store on SQLite and on a real PostgreSQL: migrations, registry and roster import,
accounts, and the alarm book turning engine transitions into alarm state and history."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from alerts.rule import Audience, Severity
from alerts.signals import Transition, Where
from gateway.errors import AccountError, RosterError
from gateway.http.api.scope import resolve
from gateway.store.accounts import authenticate, create_account
from gateway.store.alarm_book import AlarmBook
from gateway.store.db import HEAD, Store, alembic_config, revision
from gateway.store.registry_import import import_registry
from gateway.store.roster import import_roster, parse_roster
from gateway.store.schema import AlarmEvent, Base, Household, Person
from sensors.registry import parse_registry
from simulators import estate


def registry(data: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    data = data or estate.small_estate(site="t1", buildings=2, units=1, households_per_unit=2)
    return parse_registry(estate.dump(data), "t1.yaml")


async def test_migrations_build_exactly_the_models(store: Store) -> None:
    async with store.engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    assert diff == [], "a model changed without a migration (alembic revision --autogenerate)"


async def test_the_store_is_at_alembics_head_and_head_is_known_without_alembic(store: Store) -> None:
    """The gateway skips importing Alembic when the store is at `HEAD`; a new migration must move it."""
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD
    async with store.engine.connect() as conn:
        assert await conn.run_sync(revision) == HEAD


async def test_registry_import_is_idempotent_and_reports_changes(store: Store) -> None:
    data = estate.small_estate(site="t1", buildings=2, units=1, households_per_unit=2)
    first = await import_registry(store, registry(data))
    assert first.counts["household"] == [4, 0, 0] and first.counts["device"] == [6, 0, 0]
    assert first.counts["person"][0] == 8 + 1 + 1  # residents, the officer, the property desk
    assert not (await import_registry(store, registry(data))).any
    changed = copy.deepcopy(data)
    changed["buildings"][0]["name"] = "Building One"
    del changed["buildings"][1]["units"][0]["households"][1]  # b2-u1-102 moved out
    report = await import_registry(store, registry(changed))
    assert report.counts["building"] == [0, 1, 0]
    assert report.counts["household"] == [0, 0, 1] and report.counts["device"] == [0, 0, 1]
    assert report.summary().startswith("building: +0 ~1 -0")


async def test_the_away_flag_survives_a_reimport(store: Store) -> None:
    await import_registry(store, registry())
    async with store.session() as session, session.begin():
        p = await session.get(Person, ("t1", "resident", "b1-u1-101", "p-00001"))
        assert p is not None
        p.away = True
    assert not (await import_registry(store, registry())).any
    async with store.session() as session:
        p = await session.get(Person, ("t1", "resident", "b1-u1-101", "p-00001"))
        assert p is not None and p.away


async def test_roster_replaces_the_residents_of_the_households_it_lists(store: Store) -> None:
    await import_registry(store, registry())
    rows = parse_roster(
        "building,unit,household,floor,resident,name,lives_alone,vulnerable,notify\n"
        "b1,b1-u1,b1-u1-101,1,p-00001,,no,no,\n"
        "b3,b3-u1,b3-u1-301,3,p-new,Li,yes,yes,mailto:li@example.org\n",
        "roster.csv",
    )
    report = await import_roster(store, "t1", rows)
    # p-00002 left b1-u1-101; b3 and its household are new; b1-u1-102 (not listed) keeps its residents
    assert report.counts["person"] == [1, 0, 1] and report.counts["household"] == [1, 0, 0]
    assert report.counts["building"] == [1, 0, 0]
    assert not (await import_roster(store, "t1", rows)).any
    async with store.session() as session:
        kept = await session.scalar(select(func.count()).where(Person.place == "b1-u1-102"))
        new = await session.get(Person, ("t1", "resident", "b3-u1-301", "p-new"))
        assert kept == 2 and new is not None and new.vulnerable and new.notify == ["mailto:li@example.org"]
        assert await session.get(Household, ("t1", "b3-u1-301")) is not None
    with pytest.raises(RosterError, match="no site 'zz'"):
        await import_roster(store, "zz", rows)


def test_roster_problems_name_line_and_column() -> None:
    with pytest.raises(RosterError) as err:
        parse_roster(
            "building,unit,household,floor,resident,name,lives_alone,vulnerable\nb1,u,h 1,one,p,,perhaps,no\n",
            "r.csv",
        )
    assert err.value.problems == [
        "r.csv:2: household: not a valid id (got 'h 1')",
        "r.csv:2: floor: not a whole number (got 'one')",
        "r.csv:2: lives_alone: yes or no (got 'perhaps')",
    ]
    with pytest.raises(RosterError, match=r"r.csv:1: missing columns \['resident'"):
        parse_roster("building,unit,household,floor,name,lives_alone,vulnerable\n", "r.csv")


async def test_accounts_sign_in_and_scope(store: Store) -> None:
    await import_registry(store, registry())
    await create_account(store, "li", "a long password", "resident", site="t1", person="p-00005", now=1.0)
    await create_account(store, "zhao", "a long password", "officer", site="t1", person="o-1", now=1.0)
    assert await authenticate(store, "li", "a long password") is not None
    assert await authenticate(store, "li", "wrong password!") is None
    assert await authenticate(store, "nobody", "a long password") is None
    with pytest.raises(AccountError, match="exists"):
        await create_account(store, "li", "a long password", "resident", site="t1", person="p-00005", now=1.0)
    with pytest.raises(AccountError, match="no resident/contact 'p-99999'"):
        await create_account(store, "x", "a long password", "resident", site="t1", person="p-99999", now=1.0)
    with pytest.raises(AccountError, match="at least 8"):
        await create_account(store, "y", "short", "admin", now=1.0)
    li = await resolve(store, (await authenticate(store, "li", "a long password")))  # type: ignore[arg-type]
    assert li.households == {"b2-u1-101"} and li.buildings == {"b2"}
    zhao = await resolve(store, (await authenticate(store, "zhao", "a long password")))  # type: ignore[arg-type]
    assert zhao.buildings == {"b1", "b2"} and zhao.households is None
    async with store.session() as session:
        seen = (await session.scalars(select(Household.id).where(li.where(Household)))).all()
    assert seen == ["b2-u1-101"]


def _t(kind: str, ts: float, **kw: Any) -> Transition:
    return Transition(
        ts=ts,
        alarm_id="t1:CO-1:s-00001:1000",
        rule="CO-1",
        severity=kw.pop("severity", Severity.P1),
        transition=kind,  # type: ignore[arg-type]
        where=Where("t1", "b1", "b1-u1", "b1-u1-101"),
        subject="s-00001",
        notify=(Audience.RESIDENTS,),
        raised_ts=1000.0,
        **kw,
    )


async def test_alarm_book_follows_the_lifecycle_once(store: Store) -> None:
    book = AlarmBook(store, clock=lambda: 2000.0)
    states = []
    for t in (
        _t("raised", 1000.0),
        _t("escalated", 1300.0),
        _t("cleared", 1400.0),
        _t("acknowledged", 1500.0, by="t1/p-1"),
    ):
        await book._write([t])
        (row,) = [a async for a in _alarms(store)]
        states.append(row.state)
    assert states == ["active", "active", "returned", "closed"]
    # a restart re-emits the same transitions: history keeps each once
    await book._write([_t("raised", 1000.0), _t("cleared", 1400.0)])
    async with store.session() as session:
        kinds = (await session.scalars(select(AlarmEvent.kind).order_by(AlarmEvent.ts))).all()
    assert kinds == ["raised", "escalated", "cleared", "acknowledged"]
    row = await book.annotate(
        "t1:CO-1:s-00001:1000", "resolved", "account:pm1", "window opened", state="resolved"
    )
    assert row is not None and row["state"] == "resolved"
    assert [h["kind"] for h in await book.history("t1:CO-1:s-00001:1000")][-1] == "resolved"
    assert await book.annotate("t1:nothing", "comment", "x") is None


async def _alarms(store: Store):  # type: ignore[no-untyped-def]
    from gateway.store.schema import Alarm

    async with store.session() as session:
        for a in (await session.scalars(select(Alarm))).all():
            yield a


async def test_alarm_book_closes_what_the_engine_no_longer_has(store: Store) -> None:
    """The gateway was killed between the engine and the book: the book's open alarm is stale."""
    book = AlarmBook(store, clock=lambda: 5000.0)
    await book._write([_t("raised", 1000.0)])
    stream = book.watchers.open()
    await book.sync_live()  # the engine (live_alarms) has nothing open
    (row,) = [a async for a in _alarms(store)]
    assert row.state == "closed" and row.cleared_ts == 5000.0
    assert [h["by"] for h in await book.history(row.alarm_id)] == ["", "gateway"]
    assert stream.get_nowait()["event"] == "cleared"
    await book.sync_live()  # nothing left to close
    assert stream.empty()


async def test_push_subscriptions_live_in_the_store_and_move_from_the_outbox(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gateway.notify.outbox import OutboxStore
    from gateway.store.subscriptions import PushSubscriptions
    from gateway.subscription import Subscription

    def phone(n: int) -> Subscription:
        return Subscription(
            id=f"{n:032x}", site="t1", person="p-00001", endpoint=f"https://push.example/{n}", p256dh="k", auth="a",
            created=float(n), agent="Android",
        )  # fmt: skip

    phones = PushSubscriptions(store)
    async with OutboxStore(tmp_path / "notify.sqlite3") as outbox:
        await outbox.subscribe(phone(1))  # kept by an older version
        assert await phones.adopt(outbox) == 1
        assert await outbox.subscriptions() == [] and await phones.adopt(outbox) == 0
    await phones.subscribe(phone(2))
    await phones.subscribe(phone(2))  # the same phone again: one row
    assert sorted(s.id for s in await phones.subscriptions()) == [f"{1:032x}", f"{2:032x}"]
    await phones.unsubscribe(f"{1:032x}")
    assert await phones.subscriptions() == [phone(2)]


async def test_a_phone_enrolled_by_another_process_is_known_after_a_refresh(store: Store) -> None:
    """A district's instances learn of a phone an API replica enrolled (and of one forgotten) by reading
    the store again, without a restart."""
    from gateway.notify.subscriptions import Subscriptions
    from gateway.store.subscriptions import PushSubscriptions
    from gateway.subscription import Subscription

    def phone(n: int, person: str) -> Subscription:
        return Subscription(
            id=f"{n:032x}", site="t1", person=person, endpoint=f"https://push.example/{n}", p256dh="k", auth="a",
            created=float(n),
        )  # fmt: skip

    instance = await Subscriptions.load(PushSubscriptions(store), ("push.example",))
    replica = await Subscriptions.load(PushSubscriptions(store), ("push.example",))
    await replica.add(phone(1, "p-00001"))
    await replica.add(phone(2, "p-00002"))
    assert instance.of("t1", "p-00001") == []
    assert await instance.refresh() == 2
    assert instance.of("t1", "p-00001") == [f"{1:032x}"] and instance.get(f"{2:032x}") == phone(2, "p-00002")
    await replica.remove(f"{1:032x}")
    await instance.refresh()
    assert instance.of("t1", "p-00001") == [] and len(instance) == 1


async def test_a_roster_reaches_the_rules_until_the_registry_changes(store: Store) -> None:
    from alerts.site import compile_site_model
    from gateway.store.registry_import import sync_registries
    from gateway.store.roster import roster_overlay
    from sensors.index import compile_index

    data = estate.small_estate(site="t1", buildings=2, units=1, households_per_unit=2)
    reg = registry(data)
    await sync_registries(store, [reg])
    assert (await roster_overlay(store, [reg]))[0] is reg, "no roster imported: the registry as it is"
    header = "building,unit,household,floor,resident,name,lives_alone,vulnerable\n"
    moving = parse_roster(header + "b1,b1-u1,b1-u1-101,1,p-00005,,no,no\n", "roster.csv")
    with pytest.raises(RosterError, match="'p-00005' lives in 'b2-u1-101', which this roster does not list"):
        await import_roster(store, "t1", moving)
    rows = parse_roster(
        header + "b1,b1-u1,b1-u1-101,1,p-00001,Li,yes,yes\n", "roster.csv"
    )  # p-00002 moved out
    await import_roster(store, "t1", rows)
    (overlaid,) = await roster_overlay(store, [reg])
    home = next(h for _, _, h in overlaid.households() if h.id == "b1-u1-101")
    assert [(r.id, r.name, r.lives_alone, r.vulnerable) for r in home.residents] == [
        ("p-00001", "Li", True, True)
    ]
    index = compile_index([overlaid])
    model = compile_site_model([overlaid], index)
    assert model.vulnerable[index.find("t1", "s-00001")]  # the COHb rule now covers Li
    assert not model.vulnerable[index.find("t1", "s-00002")]
    # a new registry file replaces the roster's residents, in the store and for the rules
    data["name"] = "renamed"
    newer = registry(data)
    await sync_registries(store, [newer])
    assert (await roster_overlay(store, [newer]))[0] is newer
