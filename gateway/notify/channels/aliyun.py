"""Aliyun's cloud communications, shared by the SMS channel (Dysmsapi) and the voice channel (Dyvmsapi): the
settings both read, the RPC ("POP") signature v1 both APIs take, China-time helpers, and how an answer is
judged.

The signature is ours rather than aliyunsdkcore's because the SDK's client blocks (one thread per send) and
decides on its own what to do after a timeout; for SendSms and SingleCallByTts, which are not idempotent,
that decision is the channel's (it looks before it sends again). The algorithm is the SDK's
(`aliyunsdkcore/auth/composer/rpc_signature_composer.py`): every parameter but `Signature`, sorted by
name; names and values percent-encoded by RFC 3986 (only A-Z a-z 0-9 - _ . ~ stay as they are, a space is
%20); joined with `=` and `&`; StringToSign = METHOD + "&%2F&" + percent-encode(that query);
Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)). The documented examples (DescribeRegions
with testid/testsecret, SendSms with testId/testSecret) are this module's tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal, assert_never

import httpx

from gateway.notify.channels.base import Outcome, mask_numbers
from gateway.notify.messages import Message

CHINA = timezone(timedelta(hours=8), "CST")
"""Aliyun's days (an SMS's SendDate, the per-number daily limits) and its report times are China time."""

VARIABLE_CHARS = 35
"""The longest value one SMS template variable takes: "单个变量的长度限制为1~35个字符" (Aliyun's guide to
applying for templates). Longer values are cut here rather than refused there (isv.PARAM_LENGTH_LIMIT)."""

from gateway.config.providers import AliyunSettings, Fill  # noqa: E402

SMS_VERSION = "2017-05-25"
VOICE_VERSION = "2017-05-25"


# -- the signature ------------------------------------------------------------------------------------------
def percent_encode(value: str) -> str:
    """RFC 3986 over UTF-8, as POP wants it: only A-Z a-z 0-9 - _ . ~ unescaped (a space is %20, never +)."""
    return urllib.parse.quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )


def string_to_sign(params: Mapping[str, str], method: str = "POST") -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign(params: Mapping[str, str], secret: str, method: Literal["POST", "GET"] = "POST") -> str:
    """The `Signature` of a request's parameters (all of them, query and form body alike)."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(params, method).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def iso8601(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_query(
    action: str,
    version: str,
    params: Mapping[str, Any],
    settings: AliyunSettings,
    now: float,
    nonce: str,
    method: Literal["POST", "GET"] = "POST",
) -> dict[str, str]:
    """Every parameter of one request, `Signature` included. A fresh nonce per request: Aliyun refuses a
    nonce it saw in the last 15 minutes (SignatureNonceUsed), and a Timestamp more than 15 minutes off."""
    query = {
        "AccessKeyId": settings.access_key_id,
        "Action": action,
        "Format": "JSON",
        "RegionId": settings.region,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "Timestamp": iso8601(now),
        "Version": version,
    }
    query.update({k: str(v) for k, v in params.items()})
    query["Signature"] = sign(query, settings.access_key_secret.get_secret_value(), method)
    return query


# -- China time, numbers -------------------------------------------------------------------------------------
def china_day(ts: float) -> str:
    """The China-local date as Aliyun writes it (yyyyMMdd): QuerySendDetails' SendDate, a limit's day."""
    return datetime.fromtimestamp(ts, CHINA).strftime("%Y%m%d")


def next_china_midnight(ts: float) -> float:
    local = datetime.fromtimestamp(ts, CHINA)
    midnight = datetime(local.year, local.month, local.day, tzinfo=CHINA) + timedelta(days=1)
    return midnight.timestamp()


def china_time(text: str) -> float:
    """A report's time ("2017-01-01 00:00:00", China time) as epoch seconds; ValueError if it is not one."""
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA).timestamp()


def days_between(start: float, end: float) -> list[str]:
    """The China days from `start` to `end`, newest first, at most 3 (a retry never waits longer)."""
    days: list[str] = []
    ts = end
    while len(days) < 3:
        day = china_day(ts)
        if day not in days:
            days.append(day)
        if ts <= start:
            break
        ts = max(start, ts - 86400)
    return days


_NUMBER = re.compile(r"^\+?\d{5,16}$")


def phone_number(address: str, scheme: str) -> str | None:
    """The number Aliyun takes for `scheme://+8613800000000`: 11 digits for the mainland (+86 dropped),
    country code and number without "+" for others (Aliyun's international form); None if not ours."""
    prefix = f"{scheme}://"
    if not address.startswith(prefix):
        return None
    raw = address[len(prefix) :].strip().strip("/").replace(" ", "").replace("-", "")
    if not _NUMBER.match(raw):
        return None
    if raw.startswith("+86"):
        return raw[3:]
    if raw.startswith("+"):
        return raw[1:]
    return raw


def redact(text: str) -> str:
    """An Aliyun message without the numbers in it, and without the string to sign a SignatureDoesNotMatch
    answer quotes (it holds the AccessKeyId and every parameter)."""
    text = text.split("server string to sign is", 1)[0].rstrip(" :")
    return mask_numbers(text)


# -- template variables --------------------------------------------------------------------------------------
def place(message: Message) -> str:
    return message.household or message.building or message.site


def what(message: Message) -> str:
    """The title without its severity and its place: "Again: CO high" of "P1 Again: CO high — 3-201"."""
    title = message.title_zh or message.title
    severity = message.severity
    if severity and title.startswith(f"{severity} "):
        title = title[len(severity) + 1 :]
    return title.rsplit(" — ", 1)[0].strip()


def short_link(message: Message, limit: int = VARIABLE_CHARS) -> str:
    """The acknowledgement link if it fits a variable; else the gateway's address, where a signed-in person
    acknowledges. A link is never cut: half a token opens nothing."""
    url = message.ack_url or ""
    if not url:
        return "-"
    if len(url) <= limit:
        return url
    parts = urllib.parse.urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return origin if len(origin) <= limit else "-"


def value_of(source: Fill, message: Message, limit: int = VARIABLE_CHARS, link: str | None = None) -> str:
    """What fills one template variable. `Fill` is the closed list the settings accept (a name outside it
    fails `check-config`), and every name in it is answered here: mypy checks none is left out. `link` is
    the short link the channel minted for a long acknowledgement link, when it could."""
    match source:
        case "place":
            return place(message)
        case "what":
            return what(message)
        case "link":
            return link if link and len(link) <= limit else short_link(message, limit)
        case "time":
            return datetime.fromtimestamp(message.ts, CHINA).strftime("%H:%M") if message.ts else ""
        case "severity":
            return message.severity
        case "site":
            return message.site
        case "building":
            return message.building
        case "household":
            return message.household
        case _:
            assert_never(source)


def fill(
    params: Mapping[str, Fill], message: Message, limit: int = VARIABLE_CHARS, link: str | None = None
) -> dict[str, str]:
    """The template's variables from the message, each cut to what Aliyun takes."""
    return {name: value_of(source, message, limit, link)[:limit] or "-" for name, source in params.items()}


# -- requests and answers ------------------------------------------------------------------------------------
NOT_SENT = "not sent: "
"""How an attempt's error begins when Aliyun surely did not carry the request out (it said no, or the
request never left). The outbox keeps a delivery's last error across restarts, so the next attempt can tell
"try again" from "it may have gone out: look first" without the channel's memory."""


def earlier_unsure(attempts: int, last_error: str, unsure: bool, not_sent: bool) -> bool:
    """Whether an earlier attempt of a delivery may have reached Aliyun: this process saw it go out without
    an answer, or (after a restart) it is not the first attempt and the last one did not end "not sent"."""
    if unsure:
        return True
    return attempts > 1 and not not_sent and not last_error.startswith(NOT_SENT)


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back from one Aliyun request: its HTTP status and JSON, or why nothing did."""

    status: int | None
    body: dict[str, Any] | None = None
    error: str = ""
    unsure: bool = False
    """No answer, and the request may have been carried out (the response did not come in time)."""

    @property
    def code(self) -> str:
        return str(self.body.get("Code") or "") if self.body else ""

    @property
    def said_no(self) -> bool:
        """Aliyun answered that it did not carry the request out: a business refusal (isv.*) or the API
        gateway's (signature, key, timestamp, throttling, parameters). A platform error (isp.*, 5xx), a
        replayed nonce or an answer without a code leave it open."""
        code = self.code
        if not code or code == "OK":
            return False
        if code.startswith("isv."):
            return True
        return (
            self.status is not None
            and self.status < 500
            and not code.startswith("isp.")
            and (code != "SignatureNonceUsed")
        )


async def rpc(
    client: httpx.AsyncClient,
    endpoint: str,
    action: str,
    version: str,
    params: Mapping[str, Any],
    settings: AliyunSettings,
    now: float,
) -> Reply:
    """One signed form POST. Timeouts are told apart: no connection (or none free in the pool) means the
    request never left; a read timeout means it may have been carried out."""
    query = signed_query(action, version, params, settings, now, uuid.uuid4().hex)
    body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in query.items())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Accept": "application/json",
    }
    try:
        response = await client.post(endpoint, content=body.encode(), headers=headers)
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        return Reply(None, error=f"no connection: {type(exc).__name__}")
    except httpx.TimeoutException as exc:
        return Reply(None, error=f"timeout: {type(exc).__name__}", unsure=True)
    except httpx.HTTPError as exc:
        unsure = not isinstance(exc, httpx.ConnectError)
        return Reply(None, error=f"{type(exc).__name__}: {redact(str(exc))[:160]}", unsure=unsure)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    return Reply(response.status_code, answer if isinstance(answer, dict) else None)


RETRY_LATER = {"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL"}
"""Flow control (per number: per minute, hour and day) and the account's daily cap: the same message goes
through later, so it is retried, never refused for good."""
REFUSED = {
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MONTH_LIMIT_CONTROL",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidTimeStamp.Expired",
    "InvalidTimeStamp.Format",
}
"""Refusals no retry changes: a bad number in the registry, the account's monthly cap, our key or clock."""


def limit_wait(code: str, message: str, now: float) -> float:
    """How long Aliyun's limit holds: its message names the window (分钟级/小时级/天级流控); the account's
    daily cap and a day's flow control last until China midnight."""
    if code == "isv.DAY_LIMIT_CONTROL" or "天" in message or "日" in message:
        return max(60.0, next_china_midnight(now) - now)
    if "小时" in message:
        return 3600.0
    return 60.0


def judge(reply: Reply, now: float) -> Outcome:
    """An Aliyun answer as an Outcome, read from its JSON `Code` whatever the HTTP status: the API gateway
    answers 404 for an unknown AccessKeyId, which must not read as "this number is gone". The error begins
    with NOT_SENT when Aliyun surely did not carry the request out."""
    if reply.status is None:
        prefix = "" if reply.unsure else NOT_SENT
        return Outcome(False, retry=True, ambiguous=reply.unsure, error=prefix + reply.error)
    status = reply.status
    code = reply.code
    if not code:
        retry = status >= 500 or status in (408, 429) or 200 <= status < 300
        error = f"HTTP {status}: no Aliyun answer"
        return Outcome(False, retry=retry, refused=not retry, status=status, error=error)
    if code == "OK":
        return Outcome(True, status=status)
    assert reply.body is not None
    message = redact(str(reply.body.get("Message") or ""))
    error = (NOT_SENT if reply.said_no else "") + f"{code}: {message}"[:200]
    if code in RETRY_LATER:
        wait = limit_wait(code, message, now)
        return Outcome(False, retry=True, retry_after=wait, status=status, error=error)
    if code.startswith("Throttling"):
        return Outcome(False, retry=True, retry_after=2.0, status=status, error=error)
    if code == "SignatureNonceUsed":
        return Outcome(False, retry=True, status=status, error=error)
    if (
        code in REFUSED
        or code.startswith(("isv.", "isp.RAM"))
        or (status < 500 and not code.startswith("isp."))
    ):
        # a signature, template, key or permission fault, a parameter the API gateway rejects (our bug or
        # a wrong endpoint), a number or content Aliyun will not take: someone must fix it
        return Outcome(False, refused=True, status=status, error=error)
    return Outcome(False, retry=True, status=status, error=error)  # isp.SYSTEM_ERROR, 5xx: passing
