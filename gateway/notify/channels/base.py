"""What every channel answers per attempt: an `Outcome` (delivered, worth retrying and when, or not and
why), the `Channel` protocol with its declared traits, and the HTTP judging channels share.

The notifier does the retrying, pacing and fallback and asks a channel only its traits: whether follow-ups
go on it, whether the phone confirms receipt, what it is paced by, its circuit key, which of a person's
addresses are its own, which targets every transition goes to. No channel name appears outside its own
files (its module and the siblings named after it) and the registry of channels (`gateway.notify.channels`).
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx

from gateway.net.httpheaders import retry_after
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery

if TYPE_CHECKING:
    from alerts.signals import Transition
    from gateway.notify.directory import Recipient

Pace = Literal["target", "recipient"] | None
"""What a channel is paced by: its target (a bot: a token bucket shared by all who post there), each
recipient's flood budget for P3/P4 (a phone, a mailbox), or nothing (sirens, the control room's webhook)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retry: bool = False
    """Worth another attempt (5xx, timeout, 429, a bot's rate limit)."""
    retry_after: float | None = None
    gone: bool = False
    """The target no longer exists (Web Push 404/410): forget it."""
    refused: bool = False
    """The receiver refuses this target for good (a bot's keyword or signature check): a health problem
    someone must fix, not a retry."""
    ambiguous: bool = False
    """No answer in time: the message may have arrived. Retried at most once, after waiting longer."""
    over_cap: str = ""
    """Sent, past a cost cap (an urgent alarm is never held by one): why, for a health alarm."""
    hold_until: float | None = None
    """Not sent, on purpose, until then (a number's daily cap for a P3/P4): this delivery waits and its
    recipient's next channel goes; the target is fine, so nothing else to it waits (no circuit opens)."""
    capped: str = ""
    """The cost cap that held this send or that it went past ("number", "site"); empty: none."""
    status: int | None = None
    error: str = ""


ReceiptState = Literal["delivered", "failed", "answered", "unanswered", "acknowledged"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a provider says later about a message it accepted: the phone got the SMS, the call was answered,
    the person pressed 1. `ref` is the reference we sent it with (`delivery_ref`)."""

    ref: str
    state: ReceiptState
    at: float
    detail: str = ""


_NUMBER_RUN = re.compile(r"\d{7,}")


def mask(number: str) -> str:
    """A phone number fit for logs and alarms: 138****0000 (China's 86 kept in front: 86138****0000)."""
    if len(number) == 13 and number.startswith("86"):
        return "86" + mask(number[2:])
    if len(number) <= 7:
        return "*" * len(number)
    return f"{number[:3]}****{number[-4:]}"


def mask_numbers(text: str) -> str:
    """Every run of 7 or more digits in a text (an address, a provider's error) masked as a number."""
    return _NUMBER_RUN.sub(lambda m: mask(m.group()), text)


def delivery_ref(key: str) -> str:
    """A delivery's reference for providers (Aliyun's OutId, a push's custom id): 32 hex characters, the
    same for every attempt of one delivery, so a provider's records and receipts name it."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class Channel(Protocol):
    name: str
    follow_ups: bool
    """Whether acknowledged/cleared notices go out on this channel (not to SMS or email)."""
    confirms_receipt: bool
    """An accepted send is only `sent`: `delivered` waits for the device's own receipt (a phone's push)."""
    answered: bool
    """Its receipt is a person answering (a call picked up), not a device showing a message."""
    pace: Pace
    paid: bool
    site_daily_cap: int | None
    """Paid sends one site may make on this channel a local day before P3/P4 wait (notify/costs.py)."""
    ladder: Mapping[str, float | None]

    @property
    def subscribe_key(self) -> str | None:
        """The key a device subscribes with, for channels people enrol a device on (Web Push's VAPID key)."""
        ...

    def circuit(self, target: str) -> str: ...

    def addresses(self, site: str, recipient: Recipient) -> list[str]:
        """The addresses this channel itself holds for a person (their phones' subscriptions)."""
        ...

    def claims(self, address: str) -> bool:
        """Whether an address from the registry is one this channel sends to (a bot's URL)."""
        ...

    def broadcast(self, t: Transition) -> list[str]:
        """Targets every transition goes to, whoever the rules chose (sirens, webhooks)."""
        ...

    def text_limit(self, target: str) -> int | None:
        """How many bytes of text one message to this target may carry (None: no limit)."""
        ...

    async def forget(self, target: str) -> None:
        """The target answered that it no longer exists: stop using it."""
        ...

    def receipts(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """A provider's receipt callback (`POST /notify/receipts/{name}`), verified and parsed. Raises
        ValueError for a callback that is not the provider's (bad signature, bad shape)."""
        ...

    async def poll(self, sent: list[Delivery]) -> list[Receipt]:
        """Ask the provider what became of accepted messages (for providers without callbacks)."""
        ...

    def receipt_reply(self) -> tuple[str, bytes]:
        """What the provider wants back from a receipt callback (its content type and body)."""
        ...

    async def send(self, d: Delivery, message: Message) -> Outcome: ...


class ChannelTraits:
    """The defaults a channel overrides: follow-ups go, the send is the delivery, not paced, no addresses
    of its own, claims none, sends nothing to everyone, no size limit, nothing to forget."""

    name = ""
    follow_ups = True
    confirms_receipt = False
    answered = False
    pace: Pace = None
    paid = False
    """Each send costs money (SMS, voice): counted per site and channel in /metrics."""
    site_daily_cap: int | None = None
    """For a paid channel: sends per site and local day before P3/P4 wait (None: no cap)."""
    ladder: Mapping[str, float | None] = {}
    """Per severity, seconds after the alert before this channel is used, and only if nobody acknowledged
    by then (None: never for that severity); empty: at once. `notify.ladder` overrides it per site."""

    @property
    def subscribe_key(self) -> str | None:
        return None

    def addresses(self, site: str, recipient: Recipient) -> list[str]:
        return []

    def claims(self, address: str) -> bool:
        return False

    def broadcast(self, t: Transition) -> list[str]:
        return []

    def text_limit(self, target: str) -> int | None:
        return None

    async def forget(self, target: str) -> None:
        return None

    def receipts(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        raise ValueError(f"the {self.name} channel takes no receipts")

    def receipt_reply(self) -> tuple[str, bytes]:
        """What the provider wants back from a receipt callback (its content type and body)."""
        return "application/json", b'{"code":0,"msg":"ok"}'

    async def poll(self, sent: list[Delivery]) -> list[Receipt]:
        return []


def http_outcome(response: httpx.Response) -> Outcome:
    s = response.status_code
    if 200 <= s < 300:
        return Outcome(True, status=s)
    error = f"HTTP {s}: {response.text[:200]}"
    if s in (404, 410):
        return Outcome(False, gone=True, status=s, error=error)
    if s in (408, 425, 429) or s >= 500:
        return Outcome(False, retry=True, retry_after=retry_after(response), status=s, error=error)
    return Outcome(False, status=s, error=error)


async def post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> tuple[Outcome, httpx.Response | None]:
    """POST and judge the answer by its status; the response too, for channels that read the body."""
    try:
        response = await client.post(url, **kwargs)
    except httpx.TimeoutException as exc:
        return Outcome(False, retry=True, ambiguous=True, error=f"timeout: {type(exc).__name__}"), None
    except httpx.HTTPError as exc:
        return Outcome(False, retry=True, error=f"{type(exc).__name__}: {exc}"), None
    return http_outcome(response), response


def host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc
