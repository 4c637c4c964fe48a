"""What paid sends cost a site: SMS and voice calls counted per site, channel and site-local day, against a
cap per site and channel. The same rule as the per-number cap inside the SMS channel: a P3/P4 past the cap
waits until the site's next local midnight (its recipient's next channel goes meanwhile); a P1/P2 is never
held, goes out, and the first one past the cap of a site's day raises SYS-COST.

Which channels count is their `paid` trait; a channel's cap is its `site_daily_cap` trait (from its
provider's settings), `notify.site_caps` overriding it per site. The counts are rebuilt at start from the
outbox (every delivery a provider accepted keeps its `sent_at` there for `keep_days`), as the per-number
cap rebuilds its counts from the provider's own records: a restart must not reset a cap.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Mapping

from gateway.config.settings import NotifySettings
from gateway.notify.channels import Channel, Outcome
from gateway.notify.channels.aliyun import NOT_SENT
from gateway.notify.outbox import Delivery
from gateway.observe.metrics import Metrics

log = logging.getLogger(__name__)

URGENT = ("P1", "P2")
SITE = "site"
"""The `cap` a site cap's holds and passes are marked with (points in `notification`, metrics)."""


class SiteCaps:
    def __init__(
        self,
        channels: Mapping[str, Channel],
        settings: NotifySettings,
        timezones: Mapping[str, str],
        metrics: Metrics,
        *,
        clock: Callable[[], float],
    ) -> None:
        self.channels = channels
        self.settings = settings
        self.timezones = timezones
        self.metrics = metrics
        self.clock = clock
        self.sent: dict[tuple[str, str, str], int] = {}
        """(site, channel, site-local day) -> sends a provider accepted."""
        self.alarmed: set[tuple[str, str]] = set()
        """(site, day) for which SYS-COST was raised: once per site and day."""

    def _zone(self, site: str) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezones.get(site, "UTC"))

    def day(self, site: str, ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, self._zone(site)).date().isoformat()

    def next_midnight(self, site: str, ts: float) -> float:
        zone = self._zone(site)
        tomorrow = dt.datetime.fromtimestamp(ts, zone).date() + dt.timedelta(days=1)
        return dt.datetime.combine(tomorrow, dt.time(), zone).timestamp()

    def cap(self, site: str, channel: str) -> int | None:
        """Paid sends a site may make on a channel a day; None: no cap (or not a paid channel)."""
        c = self.channels.get(channel)
        if c is None or not c.paid:
            return None
        override = self.settings.site_caps.get(site, {}).get(channel)
        return override if override is not None else c.site_daily_cap

    def count(self, site: str, channel: str, ts: float) -> int:
        return self.sent.get((site, channel, self.day(site, ts)), 0)

    def load(self, sent: list[tuple[str, str, float]]) -> None:
        """Counts from the outbox's accepted sends (site, channel, sent_at) of the last two days."""
        for site, channel, at in sent:
            if self.channels.get(channel) is not None and self.channels[channel].paid:
                key = (site, channel, self.day(site, at))
                self.sent[key] = self.sent.get(key, 0) + 1
        now = self.clock()
        for site, channel, day in self.sent:
            if day == self.day(site, now):
                self.metrics.paid_today.labels(site=site, channel=channel).set(
                    self.sent[(site, channel, day)]
                )

    def hold(self, d: Delivery, now: float) -> Outcome | None:
        """The Outcome holding a P3/P4 whose site has used its day's cap on this channel; None: it may go."""
        if d.severity in URGENT:
            return None
        cap = self.cap(d.site, d.channel)
        if cap is None or self.count(d.site, d.channel, now) < cap:
            return None
        until = self.next_midnight(d.site, now)
        at = dt.datetime.fromtimestamp(until, self._zone(d.site)).strftime("%Y-%m-%d %H:%M")
        self.metrics.paid_capped.labels(site=d.site, channel=d.channel, cap=SITE, outcome="held").inc()
        error = (
            f"{NOT_SENT}site cap: {cap} {d.channel} sends at {d.site} today; {d.severity} waits until {at}"
        )
        return Outcome(False, hold_until=until, capped=SITE, error=error)

    def took(self, d: Delivery, now: float) -> tuple[bool, bool]:
        """Count a send a provider accepted: (past the site's cap, first time past it this site-day)."""
        key = (d.site, d.channel, self.day(d.site, now))
        count = self.sent[key] = self.sent.get(key, 0) + 1
        self.metrics.paid_today.labels(site=d.site, channel=d.channel).set(count)
        for old in [k for k in self.sent if k[0] == d.site and k[1] == d.channel and k[2] < key[2]]:
            del self.sent[old]  # yesterday's count is the outbox's and InfluxDB's now
        cap = self.cap(d.site, d.channel)
        if cap is None or count <= cap:
            return False, False
        self.metrics.paid_capped.labels(site=d.site, channel=d.channel, cap=SITE, outcome="sent").inc()
        first = (d.site, key[2]) not in self.alarmed
        if first:
            self.alarmed.add((d.site, key[2]))
            log.error("site %s past its daily cap of %d %s sends: a %s went out", d.site, cap, d.channel,
                      d.severity)  # fmt: skip
        return True, first
