"""`guardian run --cluster`: one gateway instance of a district, owning its fair share of the partitions.

Every `tick` (a quarter of the lease TTL) the instance says it is alive (its key in the members bucket,
with each partition's progress as the value), reads who else is, works out its share (`partitions.share`),
renews the leases it holds, hands over what is no longer its own (a last snapshot, then the lease given
back so the next owner need not wait out the TTL), and claims what is its own and free. A partition whose
lease is held by a dead instance becomes free when the lease expires, so a SIGKILLed instance's partitions
resume elsewhere within TTL + one tick; a frozen one finds its lease gone when it wakes and writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeout

from alerts.engine import Engine
from gateway.config.settings import Settings
from gateway.district.compiled import Partition, compile_partitions_compact
from gateway.district.lease import Lease, Leases, live_entries
from gateway.district.notifying import NotifyParts, notify_parts
from gateway.district.partitions import share
from gateway.district.streams import MEMBERS, District, ensure
from gateway.district.worker import PartitionWorker
from gateway.errors import LeaseLost, StoreError
from gateway.influx.client import InfluxV1
from gateway.influx.lineprotocol import PointEncoder
from gateway.influx.retention import ensure_schema
from gateway.notify.setup import http_client
from gateway.observe.systemd import SystemdNotifier, keep_alive
from gateway.store.db import open_store
from sensors.decode import DecodeLimits, Decoder

log = logging.getLogger(__name__)


class Member(msgspec.Struct):
    """An instance's heartbeat: partition -> last stored sequence."""

    instance: str
    pid: int
    progress: dict[int, int] = {}
    discarded: int = 0


_encode = msgspec.json.Encoder().encode
member_decode = msgspec.json.Decoder(Member).decode


@dataclass(slots=True)
class Owned:
    lease: Lease
    worker: PartitionWorker
    task: asyncio.Task[None]


def instance_name(settings: Settings) -> str:
    return settings.cluster.instance or f"{socket.gethostname()}-{os.getpid()}"


async def connect(settings: Settings) -> NATS:
    c = settings.cluster
    password = c.password.get_secret_value() if c.password is not None else None
    return await nats.connect(
        servers=c.servers,
        user=c.user,
        password=password,
        name=instance_name(settings),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1.0,
        connect_timeout=5,
    )


class Instance:
    def __init__(
        self,
        settings: Settings,
        partitions: Mapping[int, Partition],
        nc: NATS,
        influx: InfluxV1,
        notify: NotifyParts | None = None,
    ) -> None:
        """`notify`: the notifier's parts over the district's store (None: alarms are not notified)."""
        self.settings = settings
        self.name = instance_name(settings)
        self.nc = nc
        self.js = nc.jetstream(timeout=10.0)
        self.influx = influx
        c = settings.cluster
        self.partitions = partitions
        self.sites = sorted(site for p in partitions.values() for site in p.sites)
        self.notify = notify
        self.owned: dict[int, Owned] = {}
        self.discarded = 0
        self.tick = c.lease_ttl / 4
        self.beat_at = time.monotonic()

    STALE_AFTER = 20.0
    """Seconds without a finished membership round after which the instance is not live (a round is a few
    NATS requests of at most 10 s each); the systemd watchdog then stops being fed."""

    def live(self) -> bool:
        return time.monotonic() - self.beat_at <= self.STALE_AFTER

    def _worker(self, partition: int, lease: Lease, district: District) -> PartitionWorker:
        compiled = self.partitions[partition]
        index, model = compiled.index, compiled.model
        i = self.settings.ingest
        limits = DecodeLimits(
            max_payload=i.max_payload,
            max_batch_payload=i.max_batch_payload,
            max_skew=i.max_skew,
            backfill=i.backfill,
        )
        return PartitionWorker(
            partition,
            lease,
            js=self.js,
            state=district.state,
            engine=Engine(model),
            decoder=Decoder(index, limits),
            encoder=PointEncoder(index),
            influx=self.influx,
            snapshot_seconds=self.settings.cluster.snapshot_seconds,
            notify=self.notify,
            directory=compiled.directory,
            sites=compiled.sites,
        )

    async def run(self, stop: asyncio.Event) -> None:
        c = self.settings.cluster
        delay = 0.5
        while True:  # a cluster just started, or electing leaders, times out JetStream requests for a while
            try:
                district = await ensure(
                    self.js,
                    self.sites,
                    partitions=c.partitions,
                    replicas=c.replicas,
                    retention_days=c.retention_days,
                    ttl=c.lease_ttl,
                )
                break
            except (TimeoutError, NatsTimeout) as exc:
                log.warning("instance %s: JetStream not ready (%s); retrying", self.name, exc or "timeout")
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 10.0)
        leases = Leases(district.leases, self.name, ttl=c.lease_ttl)
        log.info("instance %s: %d partitions, %d sites", self.name, c.partitions, len(self.sites))
        async with asyncio.TaskGroup() as tg:
            if self.notify is not None:
                try:
                    shifts = await self.notify.on_call.reload()
                    log.info("instance %s: duty roster: %d shift(s) around now", self.name, shifts)
                except StoreError as exc:  # everyone of a desk is told until the roster reads (its task)
                    log.warning("instance %s: duty roster not read yet (%s)", self.name, exc)
                tg.create_task(self.notify.on_call.run(), name="duty-roster")
                tg.create_task(self.notify.refresh(), name="phones-refresh")
            watchdog = tg.create_task(
                keep_alive(
                    SystemdNotifier(),
                    self.live,
                    started=lambda: True,
                    status=lambda: f"{len(self.owned)} of {c.partitions} partitions",
                ),
                name="systemd-watchdog",
            )
            try:
                while not stop.is_set():
                    await self._round(tg, district, leases)
                    self.beat_at = time.monotonic()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.tick)
            finally:
                for p in list(self.owned):
                    await self._hand_over(p, leases)
                with contextlib.suppress(Exception):
                    await district.members.delete(self.name)
                watchdog.cancel()

    async def _round(self, tg: asyncio.TaskGroup, district: District, leases: Leases) -> None:
        progress = {p: o.worker.progress.seq for p, o in self.owned.items()}
        member = Member(self.name, os.getpid(), progress, self.discarded)
        try:
            await district.members.put(self.name, _encode(member))
            live = list(await live_entries(self.js, MEMBERS)) or [self.name]
        except Exception as exc:  # NATS unreachable: keep the leases' own deadlines in charge
            log.warning("instance %s: membership round failed (%s)", self.name, exc)
            return
        mine = share(self.name, live, self.settings.cluster.partitions)
        for p, o in list(self.owned.items()):
            if o.task.done() or p not in mine:
                # a stopped worker (NATS lost its consumer, the lease ran out) is handed over like a
                # partition that is no longer ours: what it holds is consistent up to its last stored
                # sequence, so it is kept, and the lease is given back for the next round's claim
                await self._hand_over(p, leases)
            elif not await _renew(leases, o.lease):
                o.task.cancel()
                self._forget(p)
        for p in sorted(mine - self.owned.keys()):
            try:
                lease = await leases.claim(p)
            except Exception as exc:
                log.warning("partition %d: claim failed (%s)", p, exc)
                continue
            if lease is None:
                continue
            worker = self._worker(p, lease, district)
            task = tg.create_task(self._guarded(worker), name=f"partition-{p:02d}")
            self.owned[p] = Owned(lease, worker, task)

    def _forget(self, p: int) -> None:
        o = self.owned.pop(p)
        self.discarded += o.worker.progress.discarded

    async def _guarded(self, worker: PartitionWorker) -> None:
        """A partition's end (lease lost, NATS gone) is that partition's, not the instance's."""
        try:
            await worker.run()
        except LeaseLost as exc:
            log.warning("%s", exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("partition %d stopped; it is claimed again next round", worker.partition)

    async def _hand_over(self, p: int, leases: Leases) -> None:
        o = self.owned[p]
        o.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await o.task
        try:
            if o.lease.valid():
                await o.worker.snapshot()
                await leases.release(o.lease)
                log.info("partition %d: handed over at sequence %d", p, o.worker.progress.seq)
        except Exception as exc:
            log.warning("partition %d: hand-over snapshot failed (%s); the next owner replays more", p, exc)
        self._forget(p)


async def _renew(leases: Leases, lease: Lease) -> bool:
    try:
        return await leases.renew(lease)
    except Exception as exc:  # a renewal that cannot be made: the local deadline decides
        log.warning("partition %d: renewal failed (%s)", lease.partition, exc)
        return lease.valid()


async def run_cluster(
    settings: Settings, stop: asyncio.Event | None = None, settled: Callable[[], None] | None = None
) -> None:
    """One instance until `stop` (or SIGINT/SIGTERM); `settled` runs once the partitions are compiled
    (the CLI gives the heap back to the system there, as the single-box gateway does after its start)."""
    import signal

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    partitions = await compile_partitions_compact(settings)
    if settled is not None:
        settled()
    nc = await connect(settings)
    started = time.monotonic()
    try:
        async with contextlib.AsyncExitStack() as stack:
            influx = await stack.enter_async_context(InfluxV1(settings.influx))
            if settings.influx.kind == "victoriametrics":
                await influx.health()  # no databases, policies or continuous queries to create
            else:
                await ensure_schema(influx)
            notify = None
            if settings.store.url is None:
                log.warning(
                    "instance %s: no store.url: alarms are kept as points only and nobody is notified "
                    "(a district notifies through its PostgreSQL store: docs/deploying.md)",
                    instance_name(settings),
                )
            else:
                store = await stack.enter_async_context(open_store(settings.store_url()))
                client = await stack.enter_async_context(
                    http_client(settings.notify.send_timeout, settings.notify.ca_file)
                )
                zones = {k: v for p in partitions.values() for k, v in p.directory.timezone.items()}
                notify = await notify_parts(settings.notify, store, client, zones)
            await Instance(settings, partitions, nc, influx, notify).run(stop)
    finally:
        await nc.drain()
        log.info("instance stopped after %.0f s", time.monotonic() - started)
