"""What every channel answers per attempt: an `Outcome` (delivered, worth retrying and when, or not and
why), the `Channel` protocol with its declared traits, and the HTTP judging channels share. The notifier
does the retrying, pacing and fallback; channels stay small and stateless apart from their connection
pools."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from gateway.net.httpheaders import retry_after
from gateway.notify.outbox import Delivery

if TYPE_CHECKING:
    pass


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
    status: int | None = None
    error: str = ""


class Channel(Protocol):
    name: str
    follow_ups: bool
    """Whether acknowledged/cleared notices go out on this channel (not to SMS or email)."""

    def circuit(self, target: str) -> str: ...

    async def send(self, d: Delivery, message: dict[str, Any]) -> Outcome: ...


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
