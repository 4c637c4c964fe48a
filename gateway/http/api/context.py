"""What the API reads besides the store: the running engine's live state, InfluxDB, the notifier."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from alerts.engine import Engine
from alerts.status import HEALTH, EstateStatus, estate_status
from gateway.homeassistant.bridge import HomeAssistantBridge
from gateway.influx.client import InfluxV1
from gateway.influx.linequeue import LineQueue
from gateway.notify.face import NotifierFace
from gateway.notify.oncall import OnCall
from gateway.store.alarm_book import AlarmBook
from gateway.store.db import Store
from gateway.store.order_photos import PhotoShelf
from gateway.store.signins import SignInThrottle
from gateway.store.work_orders import OrderListener
from gateway.tokens import TokenIssuer

UNKNOWN_DEVICE: dict[str, Any] = {
    "online": None,
    "health": None,
    "last_seen_s": None,
    "co_ppm": None,
    "gas_lel": None,
}


def unknown_household(reason: str, reason_zh: str) -> dict[str, Any]:
    return {"protected": None, "reason": reason, "reason_zh": reason_zh, "level": 0, "open_alarms": 0}


class LiveView:
    """The engine's state columns read for one device or household. The estate's status (70 ms at 100k
    devices) is computed at most once a `max_age` seconds, however many phones refresh."""

    def __init__(self, engine: Engine, clock: Callable[[], float], max_age: float = 2.0) -> None:
        self.engine = engine
        self.clock = clock
        self.max_age = max_age
        self._status: EstateStatus | None = None

    def status(self) -> EstateStatus:
        now = self.clock()
        if self._status is None or now - self._status.now > self.max_age:
            self._status = estate_status(self.engine, now)
        return self._status

    def device(self, site: str, device: str) -> dict[str, Any]:
        i = self.engine.model.device(site, device)
        if i is None:
            return UNKNOWN_DEVICE
        st, core = self.status(), self.engine.core
        return {
            "online": bool(st.online[i]),
            "health": HEALTH[int(st.health[i])],
            "last_seen_s": _num(st.last_seen_s[i]),
            "co_ppm": _num(core.co.co_last[i]),
            "gas_lel": _num(core.gas.gas_last[i]),
        }

    def household(self, site: str, household: str) -> dict[str, Any]:
        h = self.engine.model.household(site, household)
        if h is None:
            return unknown_household("not in the running rules yet", "尚未纳入运行中的规则")
        st = self.status()
        return {
            "protected": bool(st.protected[h]),
            "reason": st.reason.get(h, ""),
            "reason_zh": st.reason_zh.get(h, ""),
            "level": int(st.household_level[h]),
            "open_alarms": int(st.household_alarms[h]),
        }

    def unprotected(self, site: str) -> list[str]:
        """Ids of the site's households no detector can protect right now."""
        st = self.status()
        where = self.engine.model.household_where
        return [where.ids[h] for h in np.flatnonzero(~st.protected).tolist() if where.site(h) == site]

    def devices_by_health(self, site: str) -> dict[str, list[str]]:
        """Ids of the site's devices in each health state but "ok" (a handful on a normal day)."""
        st, ix = self.status(), self.engine.model.index
        out: dict[str, list[str]] = {}
        for i in np.flatnonzero(st.health > 0).tolist():
            if ix.site[i] == site:
                out.setdefault(HEALTH[int(st.health[i])], []).append(ix.ids[i])
        return out


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


@dataclass
class ApiContext:
    store: Store
    tokens: TokenIssuer
    book: AlarmBook
    clock: Callable[[], float]
    live: LiveView | None = None
    influx: InfluxV1 | None = None
    notifier: NotifierFace | None = None
    """The running notifier (one box), or an API replica's reader of the district's outbox."""
    on_call: OnCall | None = None
    """The duty roster escalation reads, reread after every edit through the API."""
    acknowledge: Callable[[str, str], Awaitable[Sequence[object]]] | None = None
    """Applied at once on one box; on an API replica published to the alarm's partition and waited for a
    bounded time (`gateway.errors.AckPending` when the owner has not applied it by then)."""
    ready: Callable[[], Awaitable[dict[str, bool]]] | None = None
    max_body: int = 65536
    page_max: int = 500
    throttle: SignInThrottle | None = None
    """Sign-ins counted in the store (shared by every replica); made from `store` when not given."""
    lines: LineQueue | None = None
    """Side-stream lines for InfluxDB (work-order changes), through the exporter's resilient write."""
    order_listeners: tuple[OrderListener, ...] = ()
    """Told of every work-order change made through the API (the order-clock watcher)."""

    @property
    def signins(self) -> SignInThrottle:
        if self.throttle is None:
            self.throttle = SignInThrottle(self.store)
        return self.throttle

    home_assistant: HomeAssistantBridge | None = None
    """Households' Home Assistant links (gateway.homeassistant); None when the gateway runs without."""
    photos: PhotoShelf | None = None
    """Where work orders' photos are kept (None: this gateway keeps none, 503)."""
    no_live: tuple[str, str] = ("rules not running", "规则未运行")
    """Why a home's live state is unknown when there is no `live` view (English, Chinese): a district's API
    replica says the partition's owner keeps it."""

    def device_state(self, site: str, device: str) -> dict[str, Any]:
        return self.live.device(site, device) if self.live else UNKNOWN_DEVICE

    def household_state(self, site: str, household: str) -> dict[str, Any]:
        return self.live.household(site, household) if self.live else unknown_household(*self.no_live)
