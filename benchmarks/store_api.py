"""The relational store and the API at district scale (docs/benchmarks.md, "Store and API"):

- importing a 100,000-household registry, and importing it again unchanged;
- the alarm book writing an alarm storm (transitions per second, SQLite);
- the control room's `GET /api/v1/alarms?state=open` and a resident's household page, p50/p99, over HTTP
  with 20,000 alarms in the book;
- one sign-in (argon2id is meant to cost time);
- the work-order API with ORDERS orders in the store (a year of a district's jobs, a tenth still open):
  the board (open first, earliest due), the overdue list, one order with its timeline, and a claim.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from alerts.rule import Audience, Severity
from alerts.signals import Transition, Where
from gateway.http.api.context import ApiContext
from gateway.http.app import create_app
from gateway.observe.health import Health
from gateway.observe.metrics import Metrics
from gateway.ops.services import free_port
from gateway.store.accounts import authenticate, create_account
from gateway.store.alarm_book import AlarmBook
from gateway.store.db import open_store, sqlite_url
from gateway.store.registry_import import import_registry
from gateway.store.schema import WorkOrderEvent
from gateway.store.work_orders import fresh_order
from gateway.tokens import TokenIssuer
from sensors.registry import SiteRegistry
from simulators import estate

ALARMS = 20_000
ORDERS = int(os.environ.get("BENCH_ORDERS_API", "100000"))


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


async def _run() -> None:
    registry = SiteRegistry.model_validate(
        estate.small_estate(site="t1", buildings=100, units=10, households_per_unit=100)
    )
    households = [h for _, _, h in registry.households()]
    tmp = Path(tempfile.mkdtemp(prefix="guardian-store-bench-"))
    async with open_store(sqlite_url(tmp / "guardian.sqlite3")) as store:
        t = time.perf_counter()
        changes = await import_registry(store, registry)
        first = time.perf_counter() - t
        t = time.perf_counter()
        again = await import_registry(store, registry)
        second = time.perf_counter() - t
        rows = sum(c[0] for c in changes.counts.values())
        print(
            f"registry import, {len(households):,} households ({rows:,} rows): {first:.1f} s; "
            f"again unchanged: {second:.1f} s ({again.summary()})"
        )

        book = AlarmBook(store, clock=time.time)
        storm = [
            Transition(
                ts=1.7e9 + i,
                alarm_id=f"t1:HLT-1:s-{i:06d}:{i}",
                rule="HLT-1",
                severity=Severity.P3,
                transition="raised",
                where=Where("t1", f"b{i % 100 + 1}", "u", households[i % len(households)].id),
                subject=f"s-{i:06d}",
                notify=(Audience.MAINTENANCE,),
                raised_ts=1.7e9 + i,
            )
            for i in range(ALARMS)
        ]
        t = time.perf_counter()
        for start in range(0, len(storm), 500):
            await book._write(storm[start : start + 500])
        wrote = time.perf_counter() - t
        print(f"alarm book: {ALARMS / wrote:,.0f} transitions/s written (batches of 500, SQLite WAL)")

        await create_account(store, "desk", "a long password", "property", site="t1", now=time.time())
        person = households[0].residents[0].id
        await create_account(
            store, "li", "a long password", "resident", site="t1", person=person, now=time.time()
        )
        t = time.perf_counter()
        await _orders(store, [(b.id, u.id, h.id) for b, u, h in registry.households()])
        print(f"work orders: {ORDERS:,} filed in {time.perf_counter() - t:.1f} s (one insert per 5,000)")
        t = time.perf_counter()
        await authenticate(store, "desk", "a long password")
        print(f"sign-in (argon2id verify): {(time.perf_counter() - t) * 1000:.0f} ms")

        api = ApiContext(
            store=store, tokens=TokenIssuer(b"k" * 32, clock=time.time), book=book, clock=time.time
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(Health(clock=time.time), Metrics(), None, api), port=port, log_level="warning"
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            tokens = {}
            for user in ("desk", "li"):
                r = await client.post(
                    "/api/v1/auth/token", data={"username": user, "password": "a long password"}
                )
                tokens[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
            open_ids = [
                o["id"]
                for o in (
                    await client.get("/api/v1/work-orders?open=true&limit=500", headers=tokens["desk"])
                ).json()["items"]
                if o["state"] == "dispatched"
            ]
            one = open_ids[0]
            for label, user, path in (
                (
                    f"orders board: open first, first page of 100 ({ORDERS:,} orders)",
                    "desk",
                    "/api/v1/work-orders?open=true",
                ),
                ("orders: overdue only", "desk", "/api/v1/work-orders?overdue=true"),
                ("orders: one with its timeline", "desk", f"/api/v1/work-orders/{one}"),
                ("resident: my requests", "li", "/api/v1/work-orders"),
            ):
                times = await _timed(client, path, tokens[user])
                print(f"{label}: p50 {_pct(times, 0.5):.1f} ms, p99 {_pct(times, 0.99):.1f} ms")
            times = []
            for order_id in open_ids[:200]:
                t = time.perf_counter()
                r = await client.post(f"/api/v1/work-orders/{order_id}/claim", headers=tokens["desk"])
                times.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
            print(
                f"orders: claim (a state change and its event): p50 {_pct(times, 0.5):.1f} ms, p99 {_pct(times, 0.99):.1f} ms"
            )
            for label, user, path in (
                ("ready (no sign-in, no store)", "li", "/readyz"),
                ("who am I (token, account, scope)", "li", "/api/v1/me"),
                ("control room: open alarms, first page of 100", "desk", "/api/v1/alarms?state=open"),
                ("resident: my household", "li", f"/api/v1/sites/t1/households/{households[0].id}"),
                ("resident: my alarms", "li", "/api/v1/alarms"),
            ):
                times = await _timed(client, path, tokens[user])
                print(
                    f"{label}: p50 {_pct(times, 0.5):.1f} ms, p99 {_pct(times, 0.99):.1f} ms "
                    f"(mean {statistics.mean(times) * 1000:.1f} ms, {ALARMS:,} alarms in the book)"
                )
        server.should_exit = True
        await serving


async def _timed(client: httpx.AsyncClient, path: str, headers: dict[str, str], n: int = 200) -> list[float]:
    """Seconds each of `n` GETs of `path` took, every answer a 200."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = await client.get(path, headers=headers)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
    return times


async def _orders(store: Any, homes: list[tuple[str, str, str]]) -> None:
    """ORDERS orders over the past year, a tenth still open (dispatched to the property), each with its
    submit event; written in batches straight into the store (filing 100k through the API would measure
    the filing, not the reads)."""
    rnd = random.Random(7)
    now = time.time()
    categories = ("detector_fault", "battery", "end_of_life", "repair", "welfare_visit", "gas_smell")
    for start in range(0, ORDERS, 5000):
        rows: list[Any] = []
        for i in range(start, min(ORDERS, start + 5000)):
            building, unit, household = homes[i % len(homes)]
            at = now - rnd.uniform(0, 365 * 86400) if i % 10 else now - rnd.uniform(0, 7 * 86400)
            category = categories[i % len(categories)]
            order = fresh_order(
                site="t1", building=building, unit=unit, household=household, device="", category=category,
                priority="P1" if category == "gas_smell" else "P3", description=f"order {i}",
                state="closed" if i % 10 else "dispatched", requester="account:guardian",
                requester_account="", assignee="property", alarm_ids=[], cause=f"bench:{i}", now=at,
            )  # fmt: skip
            order.id = f"wo-20261204-{i:08x}"  # unique, in the id pattern the API checks
            rows.append(order)
            rows.append(
                WorkOrderEvent(
                    order_id=order.id,
                    ts=at,
                    actor="guardian",
                    action="submit",
                    from_state="",
                    to_state=order.state,
                    note="",
                    data={},
                )
            )
        async with store.session() as s, s.begin():
            s.add_all(rows)


def main() -> None:
    asyncio.run(_run())


if __name__ == "__main__":
    main()
