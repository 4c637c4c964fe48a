"""Planning: one alarm transition becomes deliveries, one per (recipient, channel), each keyed by an
idempotency key so a replay after a crash plans the same ones and only those never planned go out.

P1/P2 go out on every channel a recipient has at once (the GB/T 45839 two-channel rule); P3/P4 go to the
first and keep the others on standby, woken when the first fails or a push is not confirmed in time.
Quiet hours hold P3/P4 to people at home until morning. Channels that take every transition (sirens, the
control room's webhook) say so themselves (`broadcast`).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import msgspec

from alerts.signals import Transition
from gateway.config.settings import NotifySettings
from gateway.notify import messages
from gateway.notify.book import Book
from gateway.notify.channels import Channel
from gateway.notify.directory import ROSTERED, Directory, Recipient
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery
from gateway.notify.reach import Reach
from gateway.tokens import Signer

URGENT = ("P1", "P2")
FOLLOW_UPS = ("acknowledged", "cleared")


def quiet_window(spec: str | None) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """ "22:00-07:00" -> ((22, 0), (7, 0)); the settings pattern has checked the shape."""
    if not spec:
        return None
    start, end = spec.split("-")
    return (int(start[:2]), int(start[3:])), (int(end[:2]), int(end[3:]))


class Planner:
    def __init__(
        self,
        directory: Directory,
        channels: dict[str, Channel],
        signer: Signer,
        settings: NotifySettings,
        reach: Reach,
        book: Book,
    ) -> None:
        self.directory = directory
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
        for r in self.directory.resolve(t.where, t.notify, None if follow_up else t.ts):
            if follow_up and not self._follows(t, r, at):
                continue
            msg = message
            if not follow_up:
                token = self.signer.sign(
                    "ack", r.id, alarm_id=t.alarm_id, expires=at + self.settings.link_hours * 3600
                )
                ack_url = f"{self.settings.public_url.rstrip('/')}/ack/{token}"
                msg = msgspec.structs.replace(message, ack_url=ack_url, ack=token)
            not_before = at if urgent or follow_up or not r.at_home else self.after_quiet(t.where.site, at)
            rank = 0
            for channel, target in self.routes(t.where.site, r):
                if follow_up and not self.channels[channel].follow_ups:
                    continue
                step = self.settings.ladder.get(channel) or self.channels[channel].ladder
                wait = step.get(str(t.severity), 0.0)  # type: ignore[call-overload]
                if wait is None:
                    continue  # this channel is not for this severity (a voice call for a P4)
                state = "queued" if rank == 0 or urgent else "standby"
                this = msg
                if wait > 0 and not follow_up:
                    # a later step of the ladder: goes at `ladder_at` unless someone acknowledged first
                    state, this = "standby", msgspec.structs.replace(msg, ladder_at=not_before + wait)
                out.append(delivery(r.id, str(r.audience), channel, target, rank, this, state, not_before))
                rank += 1
        self.reach.planned(t, len(out), at)
        if t.transition == "cleared":
            self.reach.forget(t.alarm_id)
        for name, everyone in self.channels.items():
            for target in everyone.broadcast(t):
                out.append(delivery(name, "-", name, target, 0, message, "queued", at))
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

    def after_quiet(self, site: str, now: float) -> float:
        if self._quiet is None:
            return now
        (start_h, start_m), (end_h, end_m) = self._quiet
        zone = zoneinfo.ZoneInfo(self.directory.timezone.get(site, "UTC"))
        local = dt.datetime.fromtimestamp(now, zone)
        start = local.replace(hour=start_h, minute=start_m, second=0, microsecond=0)
        end = local.replace(hour=end_h, minute=end_m, second=0, microsecond=0)
        if start <= end:  # a window inside one day
            return end.timestamp() if start <= local < end else now
        if local >= start:
            return (end + dt.timedelta(days=1)).timestamp()
        return end.timestamp() if local < end else now
