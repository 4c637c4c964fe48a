"""Planning: one alarm transition becomes deliveries, one per (recipient, channel), each keyed by an
idempotency key so a replay after a crash plans the same ones and only those never planned go out.

P1/P2 go out on every channel a recipient has at once (the GB/T 45839 two-channel rule); P3/P4 go to the
first and keep the others on standby, woken when the first fails or a push is not confirmed in time.
Quiet hours hold P3/P4 to people at home until morning. Channels that take every transition (sirens, the
control room's webhook) say so themselves (`broadcast`).

A person's preferences (gateway.preference, held in memory by `Preferences`) change four things, none of
them for P1/P2 but the first and the last: their channel order decides which address goes first and
which the ladder's later steps are; their quiet hours replace the site's for P3/P4 (for anyone who set
some, staff included); a P3/P4 they opted out of is not sent to them (one `cancelled` delivery says so,
and `guardian_notify_opted_out_total` counts it); their language comes first in the text.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

import msgspec

from alerts.signals import Transition
from gateway.config.settings import NotifySettings
from gateway.notify import messages
from gateway.notify.book import Book
from gateway.notify.channels import Channel
from gateway.notify.directory import ROSTERED, Directory, Recipient
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery
from gateway.notify.preferences import Preferences, Window
from gateway.notify.reach import Reach
from gateway.observe.metrics import Metrics
from gateway.preference import Preference
from gateway.preference import quiet_window as _parse
from gateway.tokens import Signer

URGENT = ("P1", "P2")
FOLLOW_UPS = ("acknowledged", "cleared")


OPTED_OUT = "opted out"
"""The error of the `cancelled` delivery that records a P3/P4 a person chose not to get."""


def quiet_window(spec: str | None) -> Window | None:
    """ "22:00-07:00" -> ((22, 0), (7, 0)); the settings pattern has checked the shape."""
    return _parse(spec)


class Planner:
    def __init__(
        self,
        directory: Directory,
        channels: dict[str, Channel],
        signer: Signer,
        settings: NotifySettings,
        reach: Reach,
        book: Book,
        preferences: Preferences | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.directory = directory
        self.preferences = Preferences() if preferences is None else preferences
        self.metrics = metrics
        self.channels = channels
        self.signer = signer
        self.settings = settings
        self.reach = reach
        self.book = book
        self._quiet = quiet_window(settings.quiet_hours)

    def plan(self, t: Transition, at: float) -> list[Delivery]:
        message = msgspec.structs.replace(messages.render(t), decided_at=at)
        follow_up = t.transition in FOLLOW_UPS
        out: list[Delivery] = []

        def delivery(r_id: str, audience: str, channel: str, target: str, rank: int, msg: Message,
                     state: str, next_at: float) -> Delivery:  # fmt: skip
            return Delivery(
                key=f"{t.alarm_id}|{t.transition}|{round(t.ts * 1000)}|{r_id}|{channel}|{target}",
                alarm_id=t.alarm_id,
                kind="follow-up" if follow_up else "alert",
                transition=t.transition,
                ts=t.ts,
                site=t.where.site,
                building=t.where.building,
                rule=t.rule,
                severity=str(t.severity),
                recipient=r_id,
                audience=audience,
                channel=channel,
                target=target,
                rank=rank,
                state=state,  # type: ignore[arg-type]
                next_at=next_at,
                queued_at=at,
                message=msg,
            )

        urgent = str(t.severity) in URGENT
        # An alert goes to whoever is on duty at its own time; a follow-up to whoever that alert reached, on
        # duty now or not: the whole grid or desk is asked, and `_follows` keeps those who were told.
        skipped: list[Delivery] = []
        for r in self.directory.resolve(t.where, t.notify, None if follow_up else t.ts):
            pref = self.preferences.of(t.where.site, r.id)
            if pref is not None and not pref.wants(t.rule, str(t.severity)):
                if not follow_up:  # a follow-up of what they never got is simply not sent
                    skipped += self._opted_out(t, r, pref, message, delivery, at)
                continue
            if follow_up and not self._follows(t, r, at):
                continue
            msg = message
            if not follow_up:
                token = self.signer.sign(
                    "ack", r.id, alarm_id=t.alarm_id, expires=at + self.settings.link_hours * 3600
                )
                ack_url = f"{self.settings.public_url.rstrip('/')}/ack/{token}"
                msg = msgspec.structs.replace(message, ack_url=ack_url, ack=token)
            if pref is not None and pref.language != msg.language:
                msg = msgspec.structs.replace(msg, language=pref.language)
            quiet = self.preferences.quiet(t.where.site, r.id)  # their own hours; None: the site's, at home
            held = not (urgent or follow_up) and (quiet is not None or r.at_home)
            not_before = self.after_quiet(t.where.site, at, quiet) if held else at
            for rank, (channel, target, wait) in enumerate(
                self.steps(t.where.site, str(t.severity), r, pref, follow_up)
            ):
                state = "queued" if rank == 0 or urgent else "standby"
                this = msg
                if wait > 0 and not follow_up:
                    # a later step of the ladder: goes at `ladder_at` unless someone acknowledged first
                    state, this = "standby", msgspec.structs.replace(msg, ladder_at=not_before + wait)
                out.append(delivery(r.id, str(r.audience), channel, target, rank, this, state, not_before))
        self.reach.planned(t, len(out), at)
        if t.transition == "cleared":
            self.reach.forget(t.alarm_id)
        for name, everyone in self.channels.items():
            for target in everyone.broadcast(t):
                out.append(delivery(name, "-", name, target, 0, message, "queued", at))
        return out + skipped

    def _opted_out(self, t: Transition, r: Recipient, pref: Preference, message: Message,
                   delivery: Callable[..., Delivery], at: float) -> list[Delivery]:  # fmt: skip
        """What records a P3/P4 this person chose not to get: one `cancelled` delivery on the channel they
        would have heard it on first (none if they have no address), and the metric."""
        if self.metrics is not None:
            self.metrics.notify_opted_out.labels(rule=t.rule).inc()
        first = next(iter(self.steps(t.where.site, str(t.severity), r, pref, False)), None)
        if first is None:
            return []
        channel, target, _ = first
        d: Delivery = delivery(r.id, str(r.audience), channel, target, 0, message, "cancelled", at)
        d.error = f"{OPTED_OUT} of {t.rule}"
        return [d]

    def steps(
        self, site: str, severity: str, r: Recipient, pref: Preference | None, follow_up: bool
    ) -> list[tuple[str, str, float]]:
        """(channel, target, ladder wait) for this person and severity, in the order they are tried. With
        a channel order of their own, their addresses go in that order (channels they did not name keep
        their place behind): a P3/P4 goes to the one they put first. Each channel keeps its own ladder
        step: a preference never makes a P1's SMS wait behind a call, nor rings sooner than the site set."""
        routes = self.routes(site, r)
        if pref is not None and pref.channels:
            order = {name: i for i, name in enumerate(pref.channels)}
            routes.sort(key=lambda route: order.get(route[0], len(order)))  # stable: ties keep their order
        out: list[tuple[str, str, float]] = []
        for channel, target in routes:
            if follow_up and not self.channels[channel].follow_ups:
                continue
            step = self.settings.ladder.get(channel) or self.channels[channel].ladder
            wait = step.get(severity, 0.0)  # type: ignore[call-overload]
            if wait is None:
                continue  # this channel is not for this severity (a voice call for a P4)
            out.append((channel, target, float(wait)))
        return out

    def _follows(self, t: Transition, r: Recipient, now: float) -> bool:
        """Whether a follow-up (acknowledged, cleared) goes to this person. What it follows and that was
        never sent (held by quiet hours, waiting on standby or a retry) is cancelled: the news is over. The
        follow-up goes only if an alert did reach them; good news never wakes someone at 01:53 for an alarm
        they would only have heard of at 07:00. Under a duty roster, officers and desk staff hear the
        follow-up only if the alert reached them: the rest of the grid was off duty and never heard of it."""
        recipient = r.id
        unsent = [
            d
            for d in self.book.of_alarm(t.alarm_id)
            if d.recipient == recipient and d.kind == "alert" and d.sent_at is None
            and d.state in ("queued", "standby")
        ]  # fmt: skip
        for d in unsent:
            self.book.change(d, "cancelled", now, f"{t.transition} before it was sent")
        told = recipient in self.reach.reached.get(t.alarm_id, ())
        if self.directory.on_call is not None and r.audience in ROSTERED:
            return told
        return not unsent or told

    def routes(self, site: str, r: Recipient) -> list[tuple[str, str]]:
        """A person's channels, best first: the addresses channels hold themselves (their phones), then the
        registry's addresses in the registry's order, each by the first channel that claims it."""
        routes = [(name, a) for name, c in self.channels.items() for a in c.addresses(site, r)]
        for url in r.urls:
            name = next((n for n, c in self.channels.items() if c.claims(url)), None)
            if name is not None:
                routes.append((name, url))
        return routes

    def after_quiet(self, site: str, now: float, window: Window | None = None) -> float:
        """When a P3/P4 held by quiet hours may go: `window` (a person's own), else the site's."""
        window = window or self._quiet
        if window is None:
            return now
        (start_h, start_m), (end_h, end_m) = window
        zone = zoneinfo.ZoneInfo(self.directory.timezone.get(site, "UTC"))
        local = dt.datetime.fromtimestamp(now, zone)
        start = local.replace(hour=start_h, minute=start_m, second=0, microsecond=0)
        end = local.replace(hour=end_h, minute=end_m, second=0, microsecond=0)
        if start <= end:  # a window inside one day
            return end.timestamp() if start <= local < end else now
        if local >= start:
            return (end + dt.timedelta(days=1)).timestamp()
        return end.timestamp() if local < end else now
