"""People are told of a district's alarms, once, through an owner's death and an owner's freeze.

A real 3-node NATS cluster, real InfluxDB and PostgreSQL (the district's store: alarm book and outbox), two
gateway instances as real processes, and a real HTTP receiver in apprise's JSON wire format standing for the
residents' phones (it records every request with the delivery's `Idempotency-Key`). One cluster for the
module; each test uses sites of its own, so what one leaves in the streams and the outbox is not the next's.

Partitions split by the instances' names: with gw-a and gw-b alive, gw-b owns the odd ones, which hold c1,
c2 and c3 (`partition_of` with 8 partitions).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest

from gateway.district.acks import publish_ack, publish_ack_link
from gateway.district.lease import Holder, Lease
from gateway.district.outbox import Fence, PartitionOutbox
from gateway.district.partitions import partition_of
from gateway.errors import LeaseLost, TokenError
from gateway.notify import messages
from gateway.notify.outbox import Delivery
from gateway.ops import services
from gateway.ops.nats_cluster import NatsCluster
from gateway.store.db import open_store
from gateway.tokens import Signer
from simulators import estate
from simulators import scenarios as sc
from tests.district.rig import PARTITIONS, SITES, Instance, owners, publish, wait
from tests.gateway.notify.receivers import Fault, Receiver, Request
from tests.gateway.notify.rig import transition

HOUSEHOLDS = 2


@dataclass
class District:
    cluster: NatsCluster
    influx: services.ChildServer
    pg: services.ChildServer
    rx: Receiver
    registry: Path
    root: Path

    @property
    def dsn(self) -> str:
        return f"postgresql://guardian@127.0.0.1:{self.pg.port}/postgres"

    def instances(self, test: str, *names: str) -> list[Instance]:
        extra = {
            "GUARDIAN_STORE__URL": services.postgres_url(self.pg),
            "GUARDIAN_NOTIFY__BACKOFF_BASE": "0.5",
            "GUARDIAN_NOTIFY__BACKOFF_MAX": "1.5",
            "GUARDIAN_NOTIFY__CIRCUIT_FAILURES": "100",  # a failing phone keeps being tried, not parked
            "GUARDIAN_NOTIFY__MAX_ATTEMPTS": "100",
        }
        folder = self.root / test
        return [
            Instance(n, self.cluster, self.registry, self.influx.port, folder / n, extra=dict(extra))
            for n in names
        ]

    def rows(self, sql: str, *args: Any) -> list[Any]:
        async def go() -> list[Any]:
            conn = await asyncpg.connect(self.dsn)
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        return asyncio.run(go())


def _registries(folder: Path, rx: Receiver) -> None:
    """The rig's six communities, every resident reachable at the receiver (`/apprise/{site}/{person}`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for site in SITES:
        reg = estate.small_estate(site=site, buildings=1, units=1, households_per_unit=HOUSEHOLDS)
        for unit in reg["buildings"][0]["units"]:
            for household in unit["households"]:
                for r in household["residents"]:
                    r["notify"] = [f"json://127.0.0.1:{rx.port}/apprise/{site}/{r['id']}"]
        (folder / f"{site}.yaml").write_text(estate.dump(reg))


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[District]:
    root = tmp_path_factory.mktemp("district-notify")
    cluster = NatsCluster(root / "nats")
    influx = services.influxd(root / "influxdb")
    pg = services.postgres()
    with Receiver() as rx, cluster, influx, pg:
        _registries(root / "registry", rx)
        services.wait_influx_ready(influx.port)
        d = District(cluster, influx, pg, rx, root / "registry", root)
        # the schema made once before any instance starts (as `guardian store upgrade` does in a deployment)
        wait(lambda: _migrated(services.postgres_url(pg)), 30, "PostgreSQL up and migrated")
        yield d


def _migrated(url: str) -> bool:
    async def go() -> None:
        async with open_store(url):
            pass

    try:
        asyncio.run(go())
    except OSError:
        return False
    except Exception as exc:  # "the database system is starting up"
        if "starting up" in str(exc):
            return False
        raise
    return True


def _exposure(site: str, device: str, t0: float) -> list[dict[str, Any]]:
    """150 ppm CO for 25 minutes at one detector (EN 50291: an alarm within 10-40 minutes)."""
    return sc.readings(site=site, device=device, start=t0, end=t0 + 1500, co=lambda t: 150.0,
                       interval=(10.0, 10.0), noise=0.0)  # fmt: skip


def _raised(rx: Receiver, path: str, status: int | None = None) -> dict[str, list[Request]]:
    """Delivery key -> the receiver's requests for it, for the alerts of raised alarms to paths under
    `path` (a site's residents, or one of them)."""
    out: dict[str, list[Request]] = {}
    for r in rx.at(path, status):
        key = r.headers.get("idempotency-key", "")
        if "|raised|" in key:
            out.setdefault(key, []).append(r)
    return out


def _alarms(d: District, site: str) -> list[Any]:
    return d.rows("SELECT alarm_id, state, acked_by FROM alarm WHERE site = $1 AND rule LIKE 'CO-%'", site)


def _tails(*gws: Instance) -> str:
    return "\n".join(f"--- {g.name}\n{g.tail()}" for g in gws)


def _owner_of(gw: Instance, site: str) -> str | None:
    return owners(gw).get(partition_of(site, PARTITIONS))


def _even(gws: list[Instance]) -> bool:
    split = list(owners(gws[0]).values())
    return all(split.count(g.name) == PARTITIONS // len(gws) for g in gws)


def test_an_owner_killed_mid_notification_costs_at_most_one_duplicate(district: District) -> None:
    """Two CO alarms on gw-b's partitions. At c1 the phone takes its time to answer and gw-b is SIGKILLed
    while the alert is on the wire (sent, not yet saved as sent: the one duplicate a fault may cost); at c2
    the phone refuses until gw-b is dead (planned, never sent: the new owner sends it, once). Each alarm is
    in the alarm book once, and an acknowledgement published into c1's partition stream reaches the new
    owner's engine and the book."""
    d, rx = district, district.rx
    a, b = d.instances("kill", "gw-a", "gw-b")
    slow = "/apprise/c1/p-00001"
    refusing = "/apprise/c2/p-00001"
    rx.script[slow] = [Fault(200, b"{}", {"content-type": "application/json"}, delay=6.0)]
    rx.script[refusing] = [Fault(503) for _ in range(1000)]
    a.start()
    b.start()
    try:
        wait(lambda: _even([a, b]), 60, "both instances own half the partitions", lambda: _tails(a, b))
        assert _owner_of(a, "c1") == _owner_of(a, "c2") == "gw-b"
        t0 = time.time() - 3600
        publish(d.cluster.urls, _exposure("c1", "s-00001", t0) + _exposure("c2", "s-00001", t0))
        # the slow phone has the alert in hand, the refusing one has said no at least once: gw-b dies
        wait(lambda: not rx.script[slow] and len(rx.script[refusing]) < 1000, 60,
             "c1's alert on the wire and c2's refused", lambda: _tails(b))  # fmt: skip
        b.kill()
        killed = time.time()
        wait(lambda: set(owners(a).values()) == {"gw-a"}, 30, "gw-b's partitions resumed on gw-a", a.tail)
        # only now does c2's phone take alerts: a retry gw-b had on the wire when it died is refused too
        rx.script[refusing].clear()

        # c2's resident told by gw-a; c1's alert, never saved as sent by gw-b, sent again by gw-a
        def told() -> bool:
            again = max((len(g) for g in _raised(rx, slow, 200).values()), default=0) >= 2
            return again and "c2/p-00001" in _reached(rx)

        wait(told, 40, "both residents told after the failover", lambda: _tails(a) + _heard(rx, killed))
        took = max(r.at for r in rx.at(refusing, 200)) - killed
        time.sleep(3.0)  # anything more that would go, goes now
        slow_sends = _raised(rx, slow, 200)
        refused_sends = _raised(rx, refusing, 200)
        assert slow_sends and refused_sends
        # one duplicate per fault: the kill, and any lease gw-a let lapse under this machine's load (a
        # partition restarted on its own owner resends what it had sent but not yet saved)
        lapses = _lapses(a)
        for key, got in slow_sends.items():
            assert 1 <= len(got) <= 2 + lapses, (key, len(got), lapses)
        for key, got in refused_sends.items():
            assert 1 <= len(got) <= 1 + lapses, (
                key,
                len(got),
                lapses,
            )  # planned before the kill, sent by gw-a
        assert all(r.at > killed for g in refused_sends.values() for r in g)
        for site in ("c1", "c2"):  # their neighbours' alerts: once each, or twice if on the wire at the kill
            assert all(len(g) <= 2 + lapses for g in _raised(rx, f"/apprise/{site}/", 200).values())
        # the alarm book: each alarm once, raised once
        for site in ("c1", "c2"):
            [alarm] = _alarms(d, site)
            events = d.rows(
                "SELECT count(*) FROM alarm_event WHERE alarm_id = $1 AND kind = 'raised'", alarm["alarm_id"]
            )
            assert events[0][0] == 1
        # the resident opens the link in the alert gw-b signed: checked with the district's shared link
        # secret and published into c1's partition stream, it reaches the new owner's engine and the book
        [alarm] = _alarms(d, "c1")
        body = json.loads(rx.at(slow, 200)[0].body)["message"]
        token = re.search(r"/ack/(\S+)", body)[1]  # type: ignore[index]
        [[secret]] = d.rows("SELECT value FROM notify_secret WHERE name = 'link'")
        signer = Signer(bytes(secret))
        seqs = asyncio.run(_open_link(d.cluster.urls, signer, token, tampered=token[:-2] + "xx"))
        assert seqs[0] == seqs[1]  # a retried publish is kept once
        wait(lambda: _alarms(d, "c1")[0]["state"] in ("acknowledged", "closed"), 20,
             "the acknowledgement applied by the partition's owner", a.tail)  # fmt: skip
        assert _alarms(d, "c1")[0]["acked_by"] == "p-00001"
        assert _alarms(d, "c2")[0]["acked_by"] is None
        print(f"notify failover: residents told {took:.1f} s after the kill; "
              f"c1 alert sent {[len(g) for g in slow_sends.values()]}x, c2 {[len(g) for g in refused_sends.values()]}x")  # fmt: skip
    finally:
        a.stop()
        b.stop()


STALE = (
    "nothing sent or written",
    "lease expired; output discarded",
    "lease lost",
    "claimed again next round",
)
"""What an instance logs when one of its partitions stops for its lease (or its store) and is claimed anew."""


def _lapses(gw: Instance) -> int:
    """How often a partition stopped on `gw` and was claimed again: each a fault of its own."""
    return sum(line.count(m) for line in gw.log.read_text(errors="replace").splitlines() for m in STALE)


def _heard(rx: Receiver, since: float) -> str:
    """What the receiver got since `since` (a failure's diagnosis)."""
    rows = [
        f"{r.at - since:+.1f}s {r.status} {r.path} {r.headers.get('idempotency-key', '')[-60:]}"
        for r in rx.requests
    ]
    return "\n--- receiver\n" + "\n".join(rows[-40:])


def _reached(rx: Receiver) -> set[str]:
    """`site/person` of every resident whose raised alert a request answered 200 carried."""
    out = set()
    for r in rx.at("/apprise/", 200):
        if "|raised|" in r.headers.get("idempotency-key", ""):
            _, _, site, person = r.path.split("/")
            out.add(f"{site}/{person}")
    return out


async def _open_link(urls: list[str], signer: Signer, token: str, *, tampered: str) -> list[int]:
    """The link opened twice (a retry), and a tampered copy refused before anything is published."""
    nc = await nats.connect(servers=urls)
    try:
        js = nc.jetstream(timeout=10.0)
        with pytest.raises(TokenError):
            await publish_ack_link(js, signer, tampered, now=time.time())
        now = time.time()
        return [await publish_ack_link(js, signer, token, now=now) for _ in range(2)]
    finally:
        await nc.close()


def test_a_frozen_owner_sends_nothing_with_its_stale_lease(district: District) -> None:
    """gw-b plans c3's alert but the phone refuses; gw-b is frozen (SIGSTOP) past its lease, gw-a takes
    the partition and the alert goes, once. gw-b is woken with the alert due for another try: it must find
    its lease gone and send nothing (no request reaches the receiver after it woke)."""
    d, rx = district, district.rx
    a, b = d.instances("freeze", "gw-a", "gw-b")
    path = "/apprise/c3/p-00001"
    rx.script[path] = [Fault(503) for _ in range(1000)]
    a.start()
    b.start()
    try:
        wait(lambda: _even([a, b]), 60, "both instances own half the partitions", lambda: _tails(a, b))
        assert _owner_of(a, "c3") == "gw-b"
        publish(d.cluster.urls, _exposure("c3", "s-00001", time.time() - 3600))
        wait(lambda: len(rx.script[path]) <= 998, 60, "gw-b tried c3's alert twice", b.tail)
        b.signal(signal.SIGSTOP)
        wait(lambda: _owner_of(a, "c3") == "gw-a", 30, "gw-a took the frozen owner's partition", a.tail)
        rx.script[path].clear()  # now the phone takes it (what gw-b had on the wire was refused)
        wait(lambda: "c3/p-00001" in _reached(rx), 30, "the alert sent by the new owner", a.tail)
        open_rows = (
            "SELECT count(*) FROM outbox_delivery WHERE partition = $1 AND state IN ('queued', 'sent')"
        )
        p = partition_of("c3", PARTITIONS)
        wait(lambda: d.rows(open_rows, p)[0][0] == 0, 30, "gw-a done with c3's deliveries", a.tail)
        planned = {r.headers.get("idempotency-key") for r in rx.at("/apprise/c3/")}
        woke = time.time()
        b.signal(signal.SIGCONT)
        # whichever of its parts runs first on waking (the sender, the stream's next write, the renewal)
        # finds the lease gone, and the partition's tasks stop together
        wait(lambda: _lapses(b) > 0, 30, "the woken owner noticed its stale lease", b.tail)
        time.sleep(4.0)  # its retries (every 1.5 s at most) would have gone by now
        # what gw-b had in hand when frozen (gw-a has sent all of it since): none of it went again
        stale = [
            r for r in rx.at("/apprise/c3/") if r.at >= woke and r.headers.get("idempotency-key") in planned
        ]
        assert stale == [], [(r.path, r.status, r.headers.get("idempotency-key")) for r in stale]
        # the freeze is a fault too: a send gw-b had made (200) but not yet recorded as sent when it was
        # stopped is sent again by gw-a, one duplicate; each of gw-a's own lease lapses may add one more
        faults = 1 + _lapses(a)
        sent = _raised(rx, "/apprise/c3/", 200)
        assert sent and all(len(g) <= 1 + faults for g in sent.values()), {k: len(g) for k, g in sent.items()}
        [alarm] = _alarms(d, "c3")
        assert alarm["state"] == "active"
    finally:
        a.stop()
        b.stop()


def test_an_acknowledgement_needs_an_alarm_id_of_a_known_site(district: District) -> None:
    async def go() -> None:
        nc = await nats.connect(servers=district.cluster.urls)
        try:
            js = nc.jetstream(timeout=5.0)
            with pytest.raises(ValueError, match="not an alarm id"):
                await publish_ack(js, "no-site-here", "c1/p-00001", time.time())
            with pytest.raises(nats.js.errors.NoStreamResponseError):
                await publish_ack(js, "nowhere:CO-1:s-00001:1", "someone", time.time())
        finally:
            await nc.close()

    asyncio.run(go())


def _delivery(n: int) -> Delivery:
    t = transition("CO-1", n=n)
    return Delivery(
        key=f"{t.alarm_id}|raised|{round(t.ts * 1000)}|p-1|apprise|json://x/{n}", alarm_id=t.alarm_id,
        kind="alert", transition="raised", ts=t.ts, site="t1", building="b1", rule="CO-1", severity="P1",
        recipient="p-1", audience="R", channel="apprise", target=f"json://x/{n}", rank=0, state="queued",
        next_at=t.ts, queued_at=t.ts, message=messages.render(t),
    )  # fmt: skip


def test_the_fence_refuses_an_older_lease_once_a_newer_one_wrote(district: District) -> None:
    """The outbox's fencing on the real store: a replay's re-planned keys are refused as already there; once
    the next owner (a higher lease revision) has written, the old owner's writes and send batches are
    refused whole; a frozen owner's own deadline refuses it before any I/O."""
    partition = 99  # none of the district's: the instances' fences never touch it

    async def go() -> None:
        async with open_store(services.postgres_url(district.pg)) as store:
            now = [0.0]
            old = Lease(partition, 10, Holder("gw-old", 0.0), deadline=100.0, clock=lambda: now[0])
            new = Lease(partition, 20, Holder("gw-new", 0.0), deadline=100.0, clock=lambda: now[0])
            old_fence, new_fence = Fence(store, old), Fence(store, new)
            old_box, new_box = (
                PartitionOutbox(store, partition, old_fence),
                PartitionOutbox(store, partition, new_fence),
            )
            first, second = _delivery(1), _delivery(2)
            assert await old_box.add([first]) == [first]
            assert await old_box.add([first, second]) == [second]  # a replay plans `first` again: kept once
            await new_fence.confirm()  # the next owner claims
            assert [d.key for d in await new_box.open_deliveries()] == [first.key, second.key]
            first.state, first.sent_at = "delivered", 1.0
            with pytest.raises(LeaseLost, match="newer owner"):
                await old_box.save([first])
            with pytest.raises(LeaseLost, match="newer owner"):
                await old_fence.confirm()
            with pytest.raises(LeaseLost):
                await old_box.acknowledged(first.alarm_id, "p-1", 2.0)
            assert [d.state for d in await new_box.open_deliveries()] == ["queued", "queued"]
            new.revision = 25  # renewed: still the newest
            await new_box.save([first])
            assert [d.key for d in await new_box.open_deliveries()] == [second.key]
            assert await new_box.reached([first.alarm_id]) == {first.alarm_id: ["R"]}
            now[0] = 200.0  # frozen past the deadline: refused before asking the store
            with pytest.raises(LeaseLost, match="lease expired"):
                new_fence.check()
            with pytest.raises(LeaseLost, match="lease expired"):
                await new_box.add([_delivery(3)])
            assert new_fence.refused == 2 and old_fence.refused == 3

    asyncio.run(go())
