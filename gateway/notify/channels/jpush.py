"""JPush (极光推送) to the residents' native app: the way an alarm reaches an Android phone in mainland China,
where Google's FCM, and with it Web Push on Android, is out of reach. JPush keeps its own connection to the
app and, when the app is not running, hands the notification to the phone maker's push service (Xiaomi,
Huawei, Honor, OPPO, vivo), which the phone's system keeps alive; iPhones get it through APNs.

Addresses are `jpush://REGISTRATION_ID`, the id the JPush SDK gives the app on the phone (the app enrols it
in the registry). One push goes to one registration id, so a push's `msg_id` is that phone's message.

What the push says, and how each phone maker is asked to file it (a system message, never marketing),
is `jpush_payload.py`.

Retries: JPush takes a `cid` ("{appkey}-{uuid}", from `GET /v3/push/cid`, valid a day) and answers a
second push with the same cid with the first push's result instead of pushing again. Every delivery gets
its own cid on its first attempt and keeps it for all the others, so an attempt whose answer was lost
(a timeout) can be sent again without ringing the phone twice.

Receipts: the phone's arrival is reported to JPush (its own channel; the makers' callbacks; on iOS the
app's notification service extension) and read back from the Report API: `GET /v3/received/detail` for
every app (counts per msg_id, which is per phone here), or `POST /v3/status/message` (per registration id,
a VIP interface) with `report: status`.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from gateway.config.providers import JPushSettings
from gateway.notify.channels.base import ChannelTraits, Outcome, Pace, Receipt, delivery_ref, post
from gateway.notify.channels.jpush_payload import push_body, time_to_live
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery

log = logging.getLogger(__name__)

SCHEME = "jpush"
REGISTRATION_ID = re.compile(r"^[0-9A-Za-z]{6,64}$")
"""What the SDK hands out ("1104a8979278ae64e75", "0207870a9b8" in JPush's examples): letters and digits."""

CID_TTL = 20 * 3600.0
"""A cid is valid for a day; used within 20 hours of being issued, a retry never meets an expired one."""
KEEP = 2 * 86400.0
"""How long the channel remembers a delivery's cid and msg_id: past any retry and any report worth waiting
for (JPush keeps received statistics for about a month)."""
MAX_KEPT = 20_000
REPORT_GRACE = 600.0
"""How long past its time_to_live a message with no arrival counted is given before it is called failed."""
MSG_IDS_PER_QUERY = 100
"""`/v3/received/detail` takes at most 100 msg_ids a call."""
DELIVERED_COUNTS = (
    "jpush_received",
    "android_pns_received",
    "ios_apns_received",
    "ios_msg_received",
    "hmos_hmpns_received",
    "hmos_msg_received",
    "quickapp_jpush_received",
)
"""The Report API's counts of messages on a device (`*_sent` only says a maker's or Apple's server has it)."""
STATUS_FAILED = {2: "registration id is not this app's", 3: "registration id is not this message's target"}
"""`/v3/status/message` statuses that end a message: 0 is delivered, 1 not (yet), 4 a JPush fault."""

GONE_CODES = {1011}
"""1011: no device matches the audience (for one registration id: the app's id for that phone is gone)."""
REFUSED_CODES = {1004, 1008, 2003, 2004, 2006, 2007}
"""Authentication (1004), a bad app key (1008), a blacklisted app (2003), a source IP outside the app's IP
whitelist (2004), an interface the plan lacks (2006, 2007): someone must fix these, retrying will not."""
PAYLOAD_CODES = {1002, 1005, 1009}
"""A missing field, a message too large, a key JPush does not know: ours to fix, not the phone's."""
RATE_LIMITED = 2002
SLOW_DOWN = {1012: 60.0, 2005: 600.0}
"""Quotas: a vendor's (when a channel is forced) or rate-limited pushes (1012), too many messages to this
target (2005): try later, and let the next channel take the alarm meanwhile."""

CHINA = timezone(timedelta(hours=8), "CST")
"""JPush counts its days (the Report API's `date`) in China time."""


def registration_id(address: str) -> str | None:
    """The registration id of a `jpush://` address; None for anything else."""
    scheme, sep, rest = address.partition("://")
    if scheme != SCHEME or not sep:
        return None
    rid = rest.strip("/")
    return rid if REGISTRATION_ID.match(rid) else None


def api_url(base: str, path: str) -> str:
    """`base` + /v3 + `path`, unless `base` already names its version (Beijing's /v3/report)."""
    base = base.rstrip("/")
    if urllib.parse.urlsplit(base).path in ("", "/"):
        base += "/v3"
    return base + path


def china_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, CHINA).strftime("%Y-%m-%d")


def jpush_error(response: httpx.Response) -> tuple[int | None, str]:
    """The `{"error": {"code", "message"}}` JPush answers a refusal with; (None, text) for anything else."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, response.text[:200]
    code = error.get("code")
    return (code if isinstance(code, int) else None), str(error.get("message") or "")[:200]


def rate_reset(response: httpx.Response) -> float | None:
    """`X-Rate-Limit-Reset`: seconds until the app's one-minute API window starts again."""
    value = response.headers.get("X-Rate-Limit-Reset")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Pushed:
    """A push JPush took: its msg_id, to which phone, when, and how long JPush keeps it for the phone."""

    msg_id: str
    registration_id: str
    at: float
    ttl: int


class JPushChannel(ChannelTraits):
    """The residents' native app over JPush and the phone makers' channels: paced per recipient, follow-ups
    go (the household hears when the alarm is handled and when it is over), delivered when JPush's Report
    API counts the message on the phone."""

    name = "jpush"
    follow_ups = True
    confirms_receipt = True
    pace: Pace = "recipient"

    def __init__(
        self, client: httpx.AsyncClient, settings: JPushSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.settings = settings
        self.clock = clock
        self.auth = httpx.BasicAuth(settings.app_key, settings.master_secret.get_secret_value())
        self.pushed: dict[str, Pushed] = {}
        """Delivery key -> the push JPush took for it, until a receipt says what became of it."""
        self._cids: dict[str, tuple[str, float]] = {}  # delivery key -> (cid, when it was issued)
        self._pool: list[tuple[str, float]] = []  # cids issued, not yet given to a delivery
        self._blocked_until = 0.0  # the app's API window is used up until then (HTTP 429, 2002)
        unset = [
            m
            for m, ids in (("xiaomi", settings.xiaomi_channel_ids), ("oppo", settings.oppo_channel_ids))
            if not ids
        ]
        if unset:
            # Xiaomi has no default channel any more and OPPO files a message without one as marketing
            log.warning("JPush: no channel ids for %s: their phones get alarms late or not at all", unset)

    def circuit(self, target: str) -> str:
        # one phone: a stale registration id never holds another resident's alarm
        return f"{self.name}:{registration_id(target) or target}"

    def claims(self, address: str) -> bool:
        return registration_id(address) is not None

    async def forget(self, target: str) -> None:
        log.warning("JPush no longer knows %s: the app on that phone must enrol again", target)

    # -- sending ------------------------------------------------------------------------------------------
    async def send(self, d: Delivery, message: Message) -> Outcome:
        rid = registration_id(d.target)
        if rid is None:
            return Outcome(False, gone=True, error=f"not a {SCHEME}:// registration id: {d.target[:80]}")
        now = self.clock()
        self._prune(now)
        if d.key in self.pushed:
            return Outcome(True)  # JPush took it already; its answer was settled before
        if now < self._blocked_until:
            wait = self._blocked_until - now
            return Outcome(False, retry=True, retry_after=wait, error=f"JPush rate limit: {wait:.0f} s left")
        cid = await self._cid(d.key, now)
        if now < self._blocked_until:  # the cid call found the app's minute spent
            wait = self._blocked_until - now
            return Outcome(False, retry=True, retry_after=wait, error=f"JPush rate limit: {wait:.0f} s left")
        body = push_body(self.settings, d, message, rid, cid)
        url = api_url(self.settings.base_url, "/push")
        outcome, response = await post(self.client, url, json=body, auth=self.auth)
        if response is None:
            return outcome  # a timeout keeps the cid: the next attempt cannot push twice
        return self._judge(d, rid, response, self.clock())

    def _judge(self, d: Delivery, rid: str, response: httpx.Response, now: float) -> Outcome:
        s = response.status_code
        self._note_rate(response, now)
        if s == 200:
            try:
                msg_id = str(response.json()["msg_id"])
            except (ValueError, KeyError, TypeError):
                return Outcome(
                    False, retry=True, status=s, error=f"JPush answered no msg_id: {response.text[:200]}"
                )
            ttl = time_to_live(self.settings, d.severity)
            self.pushed[d.key] = Pushed(msg_id, rid, now, ttl)
            return Outcome(True, status=s)
        code, text = jpush_error(response)
        error = f"JPush HTTP {s}, code {code}: {text}"
        if s == 429 or code == RATE_LIMITED:
            wait = rate_reset(response) or 60.0
            self._blocked_until = max(self._blocked_until, now + wait)
            return Outcome(False, retry=True, retry_after=wait, status=s, error=error)
        if "cid" in text.lower() and s == 400:
            # an expired or foreign cid, and the pool it came from with it: the next attempt takes a fresh one
            self._cids.pop(d.key, None)
            self._pool.clear()
            return Outcome(False, retry=True, status=s, error=error)
        if s == 401 or code in REFUSED_CODES:
            return Outcome(False, refused=True, status=s, error=error)
        if code in GONE_CODES or (
            code == 1003 and ("registration" in text.lower() or "audience" in text.lower())
        ):
            return Outcome(False, gone=True, status=s, error=error)
        if code in SLOW_DOWN:
            return Outcome(False, retry=True, retry_after=SLOW_DOWN[code], status=s, error=error)
        if s >= 500 or s == 408:
            return Outcome(False, retry=True, status=s, error=error)
        # 1003 on another value, 1002, 1005, 1009: the payload is wrong for this app; a person must look
        return Outcome(False, refused=code in PAYLOAD_CODES or code == 1003, status=s, error=error)

    def _note_rate(self, response: httpx.Response, now: float) -> None:
        """Every answer says how many calls the app's minute has left: at none, wait for the window rather
        than spend a call on a refusal."""
        remaining = response.headers.get("X-Rate-Limit-Remaining")
        reset = rate_reset(response)
        if remaining is not None and remaining.strip() == "0" and reset:
            self._blocked_until = max(self._blocked_until, now + reset)

    # -- cids ---------------------------------------------------------------------------------------------
    async def _cid(self, key: str, now: float) -> str | None:
        """The delivery's cid: the one its first attempt took, else a fresh one from the pool. None when JPush
        gives none (then the push goes without: an alarm twice is better than an alarm held back)."""
        held = self._cids.get(key)
        if held is not None and now - held[1] < CID_TTL:
            return held[0]
        self._pool = [(c, at) for c, at in self._pool if now - at < CID_TTL]
        if not self._pool:
            await self._fill_pool(now)
        if not self._pool:
            return None
        self._cids[key] = self._pool.pop(0)
        return self._cids[key][0]

    async def _fill_pool(self, now: float) -> None:
        url = api_url(self.settings.base_url, "/push/cid")
        try:
            response = await self.client.get(
                url, params={"count": self.settings.cid_batch, "type": "push"}, auth=self.auth
            )
        except httpx.HTTPError as exc:
            log.warning("JPush cid pool: %s: %s; pushing without a cid", type(exc).__name__, exc)
            return
        self._note_rate(response, now)
        if response.status_code == 429:
            self._blocked_until = max(self._blocked_until, now + (rate_reset(response) or 60.0))
        if response.status_code != 200:
            code, text = jpush_error(response)
            log.warning("JPush cid pool: HTTP %d, code %s: %s", response.status_code, code, text)
            return
        try:
            cids = [str(c) for c in response.json()["cidlist"]]
        except (ValueError, KeyError, TypeError):
            log.warning("JPush cid pool: no cidlist in %s", response.text[:200])
            return
        self._pool.extend((c, now) for c in cids if c)

    # -- receipts -----------------------------------------------------------------------------------------
    async def poll(self, sent: list[Delivery]) -> list[Receipt]:
        """Ask the Report API what became of accepted pushes: delivered once a device count says it is on the
        phone; failed when JPush says the phone is not the app's, or its time_to_live passed with nothing
        counted. A message with a receipt is not asked about again."""
        now = self.clock()
        asked = [(d.key, self.pushed[d.key]) for d in sent if d.channel == self.name and d.key in self.pushed]
        if not asked:
            return []
        if self.settings.report == "status":
            receipts = await self._statuses(asked, now)
        else:
            receipts = await self._received(asked, now)
        for key in receipts:
            self.pushed.pop(key, None)
        return list(receipts.values())

    def _expired(self, p: Pushed, now: float) -> bool:
        return now > p.at + p.ttl + REPORT_GRACE

    async def _received(self, asked: list[tuple[str, Pushed]], now: float) -> dict[str, Receipt]:
        out: dict[str, Receipt] = {}
        url = api_url(self.settings.report_url, "/received/detail")
        for i in range(0, len(asked), MSG_IDS_PER_QUERY):
            part = asked[i : i + MSG_IDS_PER_QUERY]
            params = {"msg_ids": ",".join(p.msg_id for _, p in part)}
            rows = await self._report("GET", url, params=params)
            if not isinstance(rows, list):
                continue
            counts = {str(r.get("msg_id")): r for r in rows if isinstance(r, dict)}
            for key, p in part:
                row = counts.get(p.msg_id, {})
                on_phone = [f"{name}={row[name]}" for name in DELIVERED_COUNTS if (row.get(name) or 0) > 0]
                ref = delivery_ref(key)
                if on_phone:
                    out[key] = Receipt(ref, "delivered", now, ", ".join(on_phone))
                elif self._expired(p, now):
                    out[key] = Receipt(ref, "failed", now, f"not on the phone within {p.ttl} s")
        return out

    async def _statuses(self, asked: list[tuple[str, Pushed]], now: float) -> dict[str, Receipt]:
        out: dict[str, Receipt] = {}
        url = api_url(self.settings.report_url, "/status/message")
        for key, p in asked:
            msg_id: int | str = int(p.msg_id) if p.msg_id.isdigit() else p.msg_id
            body = {"msg_id": msg_id, "registration_ids": [p.registration_id], "date": china_date(p.at)}
            answer = await self._report("POST", url, json=body)
            if not isinstance(answer, dict):
                continue
            entry = answer.get(p.registration_id)
            status = entry.get("status") if isinstance(entry, dict) else None
            ref = delivery_ref(key)
            if status == 0:
                out[key] = Receipt(ref, "delivered", now, "status 0")
            elif status in STATUS_FAILED:
                out[key] = Receipt(ref, "failed", now, f"status {status}: {STATUS_FAILED[status]}")
            elif status == 1 and self._expired(p, now):
                out[key] = Receipt(ref, "failed", now, f"status 1: not on the phone within {p.ttl} s")
        return out

    async def _report(self, method: str, url: str, **kwargs: Any) -> Any:
        """One Report API call's JSON; None (logged) when it could not be had: asked again next poll."""
        try:
            response = await self.client.request(method, url, auth=self.auth, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("JPush report %s: %s: %s", url, type(exc).__name__, exc)
            return None
        if response.status_code != 200:
            code, text = jpush_error(response)
            log.warning("JPush report %s: HTTP %d, code %s: %s", url, response.status_code, code, text)
            return None
        try:
            return response.json()
        except ValueError:
            log.warning("JPush report %s answered no JSON: %s", url, response.text[:200])
            return None

    # -- memory -------------------------------------------------------------------------------------------
    def _prune(self, now: float) -> None:
        """Bounded by age and count: the oldest first (dicts keep their insertion order)."""
        for key in [k for k, p in self.pushed.items() if now - p.at > KEEP]:
            del self.pushed[key]
        for key in [k for k, (_, at) in self._cids.items() if now - at > KEEP]:
            del self._cids[key]
        while len(self.pushed) > MAX_KEPT:
            del self.pushed[next(iter(self.pushed))]
        while len(self._cids) > MAX_KEPT:
            del self._cids[next(iter(self._cids))]
