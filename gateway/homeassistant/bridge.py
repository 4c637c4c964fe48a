"""Home Assistant for the households that asked for it: one outbound link per enrolled household.

Fed like the other stages, by construction: the alarm stage gives it every transition (`offer`), the
processor every decoded batch (`offer_batch`, readings of enrolled devices only, found by index), and its
own task samples the gateway's view of each enrolled device (online, health, its last readings: what a
household enrolled a minute ago sees at once) every `health_every` seconds.
Each goes into that household's `Home`, which keeps only what is the household's own.

The API enrols and withdraws through it (`enrol`, `withdraw`): the row is stored with its password sealed,
and the household's link restarts with the new settings. A link is a child task of the bridge's TaskGroup,
cancelled and replaced as enrolments change. Off unless `home_assistant.enabled` (docs/home-assistant.md).
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from alerts.alarm import Alarm
from alerts.signals import Transition
from gateway.errors import EnrolmentRefused
from gateway.homeassistant.discovery import DeviceCard, Kind
from gateway.homeassistant.home import Home
from gateway.homeassistant.link import Acknowledge, HomeLink
from gateway.homeassistant.sealing import Sealer
from gateway.homeassistant.states import LatestStates
from gateway.net.tls import client_context
from gateway.observe.metrics import Metrics
from gateway.store.db import Store
from gateway.store.home_links import Enrolment, HomeLinkTable
from sensors.columns import DecodedBatch
from sensors.index import DeviceIndex

log = logging.getLogger(__name__)

DeviceView = Callable[[str, str], dict[str, Any]]
"""The gateway's live view of a device (`LiveView.device`): online, health, last readings."""


@dataclass(frozen=True, slots=True)
class LinkStatus:
    enrolled: bool
    connected: bool
    last_error: str | None
    devices: int


class HomeAssistantBridge:
    def __init__(
        self,
        store: Store,
        index: DeviceIndex,
        device_view: DeviceView,
        acknowledge: Acknowledge,
        sealer: Sealer,
        *,
        open_alarms: Callable[[], Iterable[Alarm]] = tuple,
        district: tuple[str, int],
        clock: Callable[[], float],
        interval: float = 1.0,
        health_every: float = 5.0,
        backoff_max: float = 60.0,
        client_prefix: str = "gas-guardian",
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.table = HomeLinkTable(store)
        self.index = index
        self.device_view = device_view
        self.acknowledge = acknowledge
        self.open_alarms = open_alarms
        self.sealer = sealer
        self.district = district
        self.clock = clock
        self.interval = interval
        self.health_every = health_every
        self.backoff_max = backoff_max
        self.client_prefix = client_prefix
        self.links: dict[tuple[str, str], HomeLink] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._changing = asyncio.Lock()
        """One enrolment change at a time: two PUTs at once must not leave two links for one home."""
        self._by_index: dict[int, HomeLink] = {}
        self._indices = np.zeros(0, dtype=np.int32)

    # -- enrolments ------------------------------------------------------------------------------------
    async def refuse(self, host: str, port: int) -> None:
        """The district broker is never a household's: its data would reach every account on it. Compared
        by name and by the addresses both names resolve to (`localhost` is 127.0.0.1)."""
        district_host, district_port = self.district
        if port != district_port:
            return
        if host.strip().lower() == district_host.lower() or (
            await _addresses(host) & await _addresses(district_host)
        ):
            raise EnrolmentRefused("that is the estate's own broker: name your Home Assistant broker")

    async def load(self) -> int:
        for e in await self.table.all():
            await self._link(e)
        return len(self.links)

    async def enrol(self, e: Enrolment, password: str | None) -> Enrolment:
        """Store the household's link (a None password keeps the one stored) and (re)start it."""
        await self.refuse(e.host, e.port)
        owner = f"{e.site}/{e.household}"
        if password is None:
            old = await self.table.get(e.site, e.household)
            sealed = old.password_sealed if old is not None else ""
        else:
            sealed = self.sealer.seal(password, owner)
        kept = Enrolment(**{**_fields(e), "password_sealed": sealed, "updated_ts": self.clock()})
        async with self._changing:
            await self.table.put(kept)
            await self._stop((e.site, e.household))
            await self._link(kept)
        return kept

    async def withdraw(self, site: str, household: str) -> bool:
        """Opt-out: Home Assistant is told to forget her devices, the link stops, the row goes."""
        async with self._changing:
            link = self.links.get((site, household))
            if link is not None and not await link.withdraw():
                log.warning("Home Assistant broker of %s/%s unreachable at opt-out: its retained messages "
                            "stay until she removes them", site, household)  # fmt: skip
            await self._stop((site, household))
            return await self.table.delete(site, household)

    def status(self, site: str, household: str) -> LinkStatus:
        link = self.links.get((site, household))
        if link is None:
            return LinkStatus(enrolled=False, connected=False, last_error=None, devices=0)
        return LinkStatus(True, link.connected, link.last_error, len(link.home.cards))

    async def _link(self, e: Enrolment) -> None:
        devices = await self.table.devices(e.site, e.household)
        cards = [
            DeviceCard(e.site, e.household, d.id, _kind(d.kind), mains=d.mains, model=d.model)
            for d in devices
        ]
        home = Home(e.site, e.household, cards, LatestStates(self.interval))
        home.seed(self.open_alarms())
        owner = f"{e.site}/{e.household}"
        try:
            password = self.sealer.open(e.password_sealed, owner)
        except ValueError:
            log.error("Home Assistant link of %s not started: its password does not open; enrol again", owner)
            return
        link = HomeLink(
            home,
            host=e.host,
            port=e.port,
            username=e.username or None,
            password=password or None,
            tls=client_context(None, None, None) if e.tls else None,
            discovery_prefix=e.discovery_prefix,
            acknowledge=self.acknowledge,
            by=e.enrolled_by or f"home-assistant:{owner}",
            clock=self.clock,
            client_id=f"{self.client_prefix}-{e.site}-{e.household}",
            backoff_max=self.backoff_max,
            metrics=self.metrics,
        )
        key = (e.site, e.household)
        self.links[key] = link
        self._reindex()
        self._sample(link)
        if self._tg is not None:
            self._tasks[key] = self._tg.create_task(link.run(), name=f"home-assistant-{e.site}-{e.household}")

    async def _stop(self, key: tuple[str, str]) -> None:
        self.links.pop(key, None)
        self._reindex()
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _reindex(self) -> None:
        self._by_index = {}
        for link in self.links.values():
            for device in link.home.cards:
                i = self.index.find(link.home.site, device)
                if i is not None:
                    self._by_index[i] = link
        self._indices = np.array(sorted(self._by_index), dtype=np.int32)

    # -- what flows in ---------------------------------------------------------------------------------
    def offer(self, t: Transition) -> None:
        """An alarm stage listener: the transition's household, if enrolled, asks whether it is its own."""
        link = self.links.get((t.where.site, t.where.household))
        if link is not None and link.home.owns(t):
            link.home.offer(t)
            link.wake()

    def offer_batch(self, _first: int, _last: int, batch: DecodedBatch) -> None:
        """A processor sink: the readings of enrolled devices (usually none in a batch)."""
        r = batch.readings
        if not len(r) or not len(self._indices):
            return
        for row in np.flatnonzero(np.isin(r.device, self._indices)).tolist():
            link = self._by_index[int(r.device[row])]
            device = self.index.ids[int(r.device[row])]
            link.home.reading(device, float(r.co_ppm[row]), float(r.gas_lel[row]), float(r.battery_pct[row]))
            link.wake()

    def _sample(self, link: HomeLink) -> None:
        for device in link.home.cards:
            view = self.device_view(link.home.site, device)
            link.home.health(device, view.get("online"), view.get("health"))
            link.home.reading(device, _or_nan(view.get("co_ppm")), _or_nan(view.get("gas_lel")), math.nan)
        link.wake()

    async def _health(self) -> None:
        while True:
            await asyncio.sleep(self.health_every)
            for link in list(self.links.values()):
                self._sample(link)
            if self.metrics is not None:
                up = sum(link.connected for link in self.links.values())
                self.metrics.home_assistant_links.labels(state="connected").set(up)
                self.metrics.home_assistant_links.labels(state="down").set(len(self.links) - up)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            for key, link in self.links.items():
                self._tasks[key] = tg.create_task(link.run(), name=f"home-assistant-{key[0]}-{key[1]}")
            tg.create_task(self._health(), name="home-assistant-health")


async def _addresses(host: str) -> set[str]:
    """The addresses a name resolves to (none when it does not resolve now)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return set()
    return {str(info[4][0]) for info in infos}


def _or_nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _kind(kind: str) -> Kind:
    if kind in ("co", "gas", "co_gas", "door"):
        return kind  # type: ignore[return-value]
    raise ValueError(f"device kind {kind!r}")


def _fields(e: Enrolment) -> dict[str, Any]:
    return {f: getattr(e, f) for f in Enrolment.__dataclass_fields__}
