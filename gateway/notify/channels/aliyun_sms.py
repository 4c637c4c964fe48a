"""SMS through Aliyun (Dysmsapi `SendSms`, 2017-05-25): a template approved in advance, its variables filled
from the message, the delivery's reference as `OutId`.

Addresses are `aliyun-sms://+8613800000000` (or the 11 digits alone). Not `sms://` or `tel:`: a bare phone
number is wanted by this channel and the voice channel alike, and the first channel that claims a registry
address takes it, so the registry names the provider.

An accepted send is only `sent`: the phone's status report (`SmsReport`, pushed by Aliyun over HTTP, or
`QuerySendDetails` when it does not come) says delivered or failed. SendSms is not idempotent: after an
attempt that may have gone out (a timeout), the next one first asks QuerySendDetails for a record with our
OutId and sends nothing if one is there. SMS costs money and Aliyun refuses about 50 a day per number and
signature, so P3/P4 to one number stop at `daily_cap_per_number` a China day and wait for midnight; P1/P2
are never held, and every one sent past the cap is recorded in `over_cap` for a health alarm.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from gateway.config.providers import AliyunSettings
from gateway.errors import ConfigError
from gateway.notify.channels.aliyun import (
    CHINA,
    NOT_SENT,
    SMS_VERSION,
    VARIABLE_CHARS,
    Reply,
    china_day,
    china_time,
    days_between,
    earlier_unsure,
    fill,
    judge,
    next_china_midnight,
    phone_number,
    rpc,
)
from gateway.notify.channels.base import (
    ChannelTraits,
    Outcome,
    Pace,
    Receipt,
    ReceiptState,
    delivery_ref,
    mask,
)
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery

if TYPE_CHECKING:
    from gateway.notify.shortlinks import ShortLinks

log = logging.getLogger(__name__)

SCHEME = "aliyun-sms"
URGENT = ("P1", "P2")
PAGE = 50
"""QuerySendDetails' largest page."""
MAX_PAGES = 20
"""A number's day holds a few dozen of our messages at most; 1,000 records is far past any real day."""
KEEP = 2 * 86400.0
"""How long the channel remembers a reference: longer than any retry of a delivery."""
REF = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Accepted:
    """A send Aliyun took: to whom, its BizId (QuerySendDetails narrows to it), when."""

    number: str
    biz_id: str
    at: float


class AliyunSmsChannel(ChannelTraits):
    """Aliyun SMS to a person's mobile: paced per recipient, no follow-ups (each costs money), delivered when
    the phone's status report says so."""

    name = "aliyun-sms"
    paid = True
    follow_ups = False
    confirms_receipt = True
    pace: Pace = "recipient"

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: AliyunSettings,
        *,
        clock: Callable[[], float] = time.time,
        links: ShortLinks | None = None,
    ) -> None:
        if not settings.sign_name or not settings.sms_templates:
            raise ConfigError("aliyun SMS needs sign_name and sms_templates (approved in Aliyun's console)")
        self.client = client
        self.settings = settings
        self.clock = clock
        self.links = links
        self.site_daily_cap = settings.site_daily_cap_sms
        """Short links for acknowledgement links longer than a template variable takes."""
        self.sent_today: dict[tuple[str, str], int] = {}
        """(number, China day) -> SMS Aliyun took for it."""
        self.over_cap: list[tuple[str, str]] = []
        """(number, China day) for which a P1/P2 went out past the daily cap: for a health alarm."""
        self.over_cap_sends = 0
        self.accepted: dict[str, Accepted] = {}
        self._seeded: set[tuple[str, str]] = set()
        self._unsure: dict[str, float] = {}  # ref -> when a SendSms for it went out with no answer yet
        self._not_sent: dict[str, float] = {}  # ref -> when Aliyun said no to it (or we held it)
        self._pruned = 0.0

    def circuit(self, target: str) -> str:
        return f"{self.name}:{phone_number(target, SCHEME) or target}"

    def claims(self, address: str) -> bool:
        return phone_number(address, SCHEME) is not None

    # -- sending ------------------------------------------------------------------------------------------
    async def send(self, d: Delivery, message: Message) -> Outcome:
        number = phone_number(d.target, SCHEME)
        if number is None:
            return Outcome(False, refused=True, error=f"not an {SCHEME}:// address")
        template = self.settings.sms_template(d.severity)
        if template is None:
            return Outcome(False, refused=True, error=f"no SMS template for {d.severity}")
        ref = delivery_ref(d.key)
        now = self.clock()
        self._prune(now)
        if ref in self.accepted:
            return Outcome(True)
        if earlier_unsure(d.attempts, d.error, ref in self._unsure, ref in self._not_sent):
            found = await self._find(number, ref, d.queued_at, now)
            if isinstance(found, Outcome):
                return found
            if found is not None:
                log.info("SMS %s to %s: an earlier attempt arrived; not sent again", ref, mask(number))
                self._took(ref, number, "", now)
                return Outcome(True, status=200)
            self._unsure.pop(ref, None)
        key = (number, china_day(now))
        urgent = d.severity in URGENT
        if not urgent and key not in self._seeded:
            await self._seed(key, now)
        cap = self.settings.daily_cap_per_number
        if not urgent and self.sent_today.get(key, 0) >= cap:
            self._not_sent[ref] = now
            until = next_china_midnight(now)
            at = datetime.fromtimestamp(until, CHINA).strftime("%Y-%m-%d %H:%M")
            error = f"{NOT_SENT}daily cap: {cap} SMS to {mask(number)} today; {d.severity} waits until {at}"
            return Outcome(False, hold_until=until, capped="number", error=error)
        link = None
        if self.links is not None and "link" in template.params.values():
            link = await self.links.shorten(ref, message.ack_url or "", VARIABLE_CHARS)
        params = {
            "PhoneNumbers": number,
            "SignName": self.settings.sign_name,
            "TemplateCode": template.code,
            "TemplateParam": json.dumps(
                fill(template.params, message, link=link), ensure_ascii=False, separators=(",", ":")
            ),
            "OutId": ref,
        }
        self._unsure[ref] = now
        reply = await self._rpc("SendSms", params, now)
        outcome = judge(reply, now)
        if outcome.ok:
            if self._took(ref, number, str((reply.body or {}).get("BizId") or ""), now):
                cap = self.settings.daily_cap_per_number
                return Outcome(
                    True,
                    status=outcome.status,
                    over_cap=f"past {cap} SMS a day to {mask(number)}",
                    capped="number",
                )
            return outcome
        if outcome.error.startswith(NOT_SENT):
            self._unsure.pop(ref, None)
            self._not_sent[ref] = now
        log.warning("SMS %s to %s: %s", ref, mask(number), outcome.error)
        return outcome

    def _took(self, ref: str, number: str, biz_id: str, now: float) -> bool:
        """Count an accepted SMS; True when it went past the number's daily cap (an urgent one, then)."""
        self._unsure.pop(ref, None)
        self._not_sent.pop(ref, None)
        self.accepted[ref] = Accepted(number, biz_id, now)
        key = (number, china_day(now))
        count = self.sent_today[key] = self.sent_today.get(key, 0) + 1
        if count <= self.settings.daily_cap_per_number:
            return False
        self.over_cap_sends += 1
        if key not in self.over_cap:
            self.over_cap.append(key)
            log.error("SMS to %s past the daily cap of %d", mask(number), self.settings.daily_cap_per_number)
        return True

    async def _rpc(self, action: str, params: Mapping[str, Any], now: float) -> Reply:
        endpoint = self.settings.sms_endpoint
        return await rpc(self.client, endpoint, action, SMS_VERSION, params, self.settings, now)

    # -- QuerySendDetails ---------------------------------------------------------------------------------
    async def _find(
        self, number: str, ref: str, since: float, now: float, biz_id: str = ""
    ) -> dict[str, Any] | Outcome | None:
        """The send record with our OutId among a number's records of the days since `since`; None if there
        is none; an Outcome if Aliyun could not be asked (then nothing is sent: better late than twice)."""
        for day in days_between(since, now):
            page = 1
            while True:
                params: dict[str, Any] = {
                    "PhoneNumber": number,
                    "SendDate": day,
                    "PageSize": PAGE,
                    "CurrentPage": page,
                }
                if biz_id:
                    params["BizId"] = biz_id
                reply = await self._rpc("QuerySendDetails", params, now)
                if reply.code != "OK":
                    failed = judge(reply, now)
                    error = f"could not look for an earlier attempt, not sending again yet: {failed.error}"
                    return Outcome(
                        False,
                        retry=not failed.refused,
                        refused=failed.refused,
                        retry_after=failed.retry_after,
                        status=failed.status,
                        error=error[:300],
                    )
                body = reply.body or {}
                for record in records(body):
                    if record.get("OutId") == ref:
                        return record
                pages = math.ceil(_int(body.get("TotalCount")) / PAGE)
                if page >= min(pages, MAX_PAGES):
                    break
                page += 1
        return None

    async def _seed(self, key: tuple[str, str], now: float) -> None:
        """Start a (number, day)'s count from what Aliyun holds: a restart must not reset the cap. Aliyun's
        count takes in every SMS of the account to that number that day, so it errs on the side of holding."""
        number, day = key
        params = {"PhoneNumber": number, "SendDate": day, "PageSize": 1, "CurrentPage": 1}
        reply = await self._rpc("QuerySendDetails", params, now)
        if reply.code == "OK" and reply.body is not None:
            self.sent_today[key] = max(self.sent_today.get(key, 0), _int(reply.body.get("TotalCount")))
            self._seeded.add(key)
        elif reply.said_no:
            self._seeded.add(key)  # not allowed to ask (RAM): count from here rather than ask on every send
            log.warning("cannot count today's SMS to %s: %s", mask(number), judge(reply, now).error)

    async def poll(self, sent: list[Delivery]) -> list[Receipt]:
        """What QuerySendDetails says of sends whose status report did not come (SendStatus 1 waiting for the
        report, 2 failed, 3 delivered)."""
        out: list[Receipt] = []
        now = self.clock()
        for d in sent:
            number = phone_number(d.target, SCHEME)
            if d.channel != self.name or number is None:
                continue
            ref = delivery_ref(d.key)
            accepted = self.accepted.get(ref)
            since = d.sent_at or d.queued_at
            found = await self._find(number, ref, since, now, accepted.biz_id if accepted else "")
            if not isinstance(found, dict):
                continue
            status = _int(found.get("SendStatus"))
            if status not in (2, 3):
                continue
            try:
                at = china_time(str(found.get("ReceiveDate") or ""))
            except ValueError:
                at = now
            state: ReceiptState = "delivered" if status == 3 else "failed"
            out.append(Receipt(ref, state, at, str(found.get("ErrCode") or "")))
        return out

    # -- status reports -----------------------------------------------------------------------------------
    def receipts(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """Aliyun's SmsReport HTTP batch push: a JSON array of {phone_number, send_time, report_time,
        success, err_code, err_msg, sms_size, biz_id, out_id}. Aliyun signs nothing in these pushes, so
        the shape is all there is to check; records without one of our references (sent by other systems
        on the account) are left out. Raises ValueError for a body that is not such an array."""
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ValueError("an SMS status report is a JSON array") from exc
        if not isinstance(data, list):
            raise ValueError("an SMS status report is a JSON array")
        out: list[Receipt] = []
        for item in data:
            if not isinstance(item, dict):
                raise ValueError("an SMS status report holds objects")
            success = item.get("success")
            if not isinstance(success, bool):
                raise ValueError("an SMS status report says success true or false")
            try:
                at = china_time(str(item["report_time"]))
            except (KeyError, ValueError) as exc:
                raise ValueError("an SMS status report has a report_time (yyyy-MM-dd HH:mm:ss)") from exc
            ref = item.get("out_id")
            if not isinstance(ref, str) or not REF.match(ref):
                continue
            state: ReceiptState = "delivered" if success else "failed"
            out.append(Receipt(ref, state, at, str(item.get("err_code") or "")))
        return out

    def _prune(self, now: float) -> None:
        if now - self._pruned < 3600:
            return
        self._pruned = now
        old = now - KEEP
        for refs in (self._unsure, self._not_sent):
            for ref in [r for r, at in refs.items() if at < old]:
                del refs[ref]
        for ref in [r for r, a in self.accepted.items() if a.at < old]:
            del self.accepted[ref]
        days = set(days_between(now - 86400, now))
        for key in [k for k in self.sent_today if k[1] not in days]:
            del self.sent_today[key]
            self._seeded.discard(key)


def records(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """QuerySendDetails' records: `SmsSendDetailDTOs.SmsSendDetailDTO` (a list, as the JSON format has it)."""
    dtos = body.get("SmsSendDetailDTOs") or {}
    found = dtos.get("SmsSendDetailDTO") if isinstance(dtos, dict) else None
    if isinstance(found, dict):
        found = [found]
    return [r for r in found or [] if isinstance(r, dict)]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
