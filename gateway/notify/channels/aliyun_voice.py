"""Voice calls through Aliyun (Dyvmsapi `SingleCallByTts`, 2017-05-25): a text-to-speech template approved
in advance, read out `voice_play_times` times, the delivery's reference as `OutId`.

Addresses are `aliyun-voice://+8613800000000` (not `tel:`, for the reason the SMS channel gives). The channel
calls whatever it is given: which alarms ring a phone (P1, and when on the ladder) is the planner's and the
ladder's decision, not this file's.

A call Aliyun accepted is only `sent`; its call report (VoiceReport, pushed over HTTP when the call ends)
says answered, unanswered (busy, no answer, refused, out of reach, powered off) or failed.

SingleCallByTts takes no key presses (IvrCall does), so a call cannot be acknowledged by "press 1": the
person acknowledges through the link in the SMS that goes with it, or in the app.

A timeout must not ring the phone twice. Dyvmsapi has no way to look a call up by OutId or by number and
time (QueryCallDetailByCallId needs the CallId the lost answer carried; the others are for call tasks and
robots), so an attempt that may have placed the call is taken as placed: the next attempt calls nobody and
answers accepted, and the call report decides. If the call never went out, no report comes and the
delivery falls back when its confirmation is due, as any unconfirmed send does; a second call to someone
who just heard the alarm, for the length of a retry, is the worse failure. Aliyun's flow control (one call
per number a minute) would refuse a quick second call, but it is per qualification and can be raised for
dedicated numbers, so the channel does not lean on it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from gateway.config.providers import AliyunSettings
from gateway.errors import ConfigError
from gateway.notify.channels.aliyun import (
    NOT_SENT,
    VOICE_VERSION,
    china_time,
    earlier_unsure,
    fill,
    judge,
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

log = logging.getLogger(__name__)

SCHEME = "aliyun-voice"
KEEP = 2 * 86400.0
REF = re.compile(r"^[0-9a-f]{32}$")

CALL_STATES: dict[str, tuple[ReceiptState, str]] = {
    "200000": ("answered", "heard the message to the end"),
    "200001": ("answered", "hung up before the end"),
    "200008": ("answered", "no key pressed"),
    "200002": ("unanswered", "busy"),
    "200003": ("unanswered", "rang, not answered"),
    "200005": ("unanswered", "could not be reached (refused or the carrier)"),
    "200007": ("unanswered", "out of service area"),
    "200010": ("unanswered", "powered off"),
    "200004": ("failed", "not a valid number"),
    "200006": ("failed", "the message could not be played"),
    "200011": ("failed", "the number is suspended"),
}
"""Aliyun's call status codes (呼叫状态码 / carrier receipt codes) for a single call. 2001xx are states of
two-party calls (ClickToDial), not of ours; any other code is a failure."""


class AliyunVoiceChannel(ChannelTraits):
    """An Aliyun text-to-speech call to a person's phone: not paced (an urgent alarm waits for no budget),
    no follow-ups, confirmed by the call report."""

    name = "aliyun-voice"
    paid = True
    ladder: Mapping[str, float | None] = {"P1": 120.0, "P2": 600.0, "P3": None, "P4": None}
    """A call wakes someone: a P1 rings if nobody acknowledged within 2 min, a P2 within 10; P3/P4 never."""
    follow_ups = False
    confirms_receipt = True
    answered = True
    pace: Pace = None

    def __init__(
        self, client: httpx.AsyncClient, settings: AliyunSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        if not settings.voice_tts_template:
            raise ConfigError("aliyun voice needs voice_tts_template (approved in Aliyun's console)")
        self.client = client
        self.settings = settings
        self.clock = clock
        self.site_daily_cap = settings.site_daily_cap_voice
        self.calls: dict[str, tuple[str, float]] = {}
        """ref -> (CallId, when) of calls Aliyun accepted."""
        self._placed: dict[str, float] = {}  # ref -> when a call request went out with no answer yet
        self._not_placed: dict[str, float] = {}  # ref -> when Aliyun said no to it
        self._pruned = 0.0

    def circuit(self, target: str) -> str:
        return f"{self.name}:{phone_number(target, SCHEME) or target}"

    def claims(self, address: str) -> bool:
        return phone_number(address, SCHEME) is not None

    async def send(self, d: Delivery, message: Message) -> Outcome:
        number = phone_number(d.target, SCHEME)
        if number is None:
            return Outcome(False, refused=True, error=f"not an {SCHEME}:// address")
        ref = delivery_ref(d.key)
        now = self.clock()
        self._prune(now)
        if ref in self.calls:
            return Outcome(True)
        if earlier_unsure(d.attempts, d.error, ref in self._placed, ref in self._not_placed):
            # No lookup by OutId exists: wait for the call report a call that rang sends (it settles the
            # delivery meanwhile); none in time means the request never became a call, and a P1 must ring.
            since = self._placed.setdefault(ref, now)
            until = since + self.settings.voice_report_wait_s
            if now < until:
                log.warning("call %s to %s may have rung: waiting for its report", ref, mask(number))
                return Outcome(False, hold_until=until, error="not sent: an earlier attempt may have rung; "
                               "waiting for its call report")  # fmt: skip
            log.warning("call %s to %s: no call report in time, calling again", ref, mask(number))
        params: dict[str, Any] = {
            "CalledNumber": number,
            "TtsCode": self.settings.voice_tts_template,
            "TtsParam": json.dumps(
                fill(self.settings.voice_tts_params, message), ensure_ascii=False, separators=(",", ":")
            ),
            "PlayTimes": self.settings.voice_play_times,
            "OutId": ref,
        }
        if self.settings.called_show_number:
            params["CalledShowNumber"] = self.settings.called_show_number
        self._placed[ref] = now
        endpoint = self.settings.voice_endpoint
        reply = await rpc(self.client, endpoint, "SingleCallByTts", VOICE_VERSION, params, self.settings, now)
        outcome = judge(reply, now)
        if outcome.ok:
            self._placed.pop(ref, None)
            self.calls[ref] = (str((reply.body or {}).get("CallId") or ""), now)
            return outcome
        if outcome.error.startswith(NOT_SENT):
            self._placed.pop(ref, None)
            self._not_placed[ref] = now
        log.warning("call %s to %s: %s", ref, mask(number), outcome.error)
        return outcome

    def receipts(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """Aliyun's VoiceReport HTTP batch push (a JSON array of call records: call_id, status_code,
        status_msg, out_id, start_time or b_start_time, end_time, duration, dtmf). Aliyun signs nothing in
        these pushes; records without one of our references are left out, and so are two-party states.
        Raises ValueError for a body that is not such an array."""
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ValueError("a call report is a JSON array") from exc
        if not isinstance(data, list):
            raise ValueError("a call report is a JSON array")
        out: list[Receipt] = []
        for item in data:
            if not isinstance(item, dict):
                raise ValueError("a call report holds objects")
            code = item.get("status_code")
            if not isinstance(code, str | int) or not str(code).strip():
                raise ValueError("a call report has a status_code")
            code = str(code).strip()
            ref = item.get("out_id")
            if not isinstance(ref, str) or not REF.match(ref) or code.startswith("2001"):
                continue
            state, meaning = CALL_STATES.get(code, ("failed", "unknown status"))
            detail = f"{code} {meaning}"
            if item.get("dtmf"):
                detail += f", keys {item['dtmf']}"
            out.append(Receipt(ref, state, self._at(item), detail))
        return out

    def _at(self, item: Mapping[str, Any]) -> float:
        for name in ("end_time", "status_time", "b_start_time", "start_time", "originate_time"):
            try:
                return china_time(str(item.get(name) or ""))
            except ValueError:
                continue
        return self.clock()

    def _prune(self, now: float) -> None:
        if now - self._pruned < 3600:
            return
        self._pruned = now
        old = now - KEEP
        for refs in (self._placed, self._not_placed):
            for ref in [r for r, at in refs.items() if at < old]:
                del refs[ref]
        for ref in [r for r, (_, at) in self.calls.items() if at < old]:
            del self.calls[ref]
