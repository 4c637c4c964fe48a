"""One app's access token for the WeChat APIs (the Official Account's, a WeCom app's), shared by every send.

Every call to `api.weixin.qq.com` and `qyapi.weixin.qq.com` carries `?access_token=`, a credential valid for
`expires_in` seconds (7,200) fetched with the app's secret. Both platforms limit how often it may be fetched
and ask callers to cache it, so one `AccessTokens` per app holds it:

- It is refreshed `margin` seconds (5 minutes) before it expires, and never later than halfway through a
  short-lived one. One fetch at a time: whoever needs a token while it runs awaits that same fetch (a
  shared future, shielded so that a send cancelled at its deadline does not cancel it for the others), and
  500 alarms going at once cost one fetch, not 500.
- A send answered 40001 (invalid credential), 40014 (invalid token) or 42001 (expired) drops the token it
  used, if it is still the cached one, and is repeated once with a fresh one inside the same send: both
  platforms may end a token early (another system fetched one for the same account, an operator reset it).
  Concurrent sends rejected for the same token share one refetch.
- A fetch refused for good (40013 bad appid or corpid, 40125 or 40001 bad secret, 40164 the gateway's
  address is not on the account's IP whitelist) is a refusal: every send is refused at once with the
  platform's reason, and no token is asked for again for `hold` seconds. An operator has to fix the
  settings or the console; asking again for every alarm would only spend the fetch quota. -1 (system busy),
  45009/45011 (quota) and transport failures are retried, and remembered briefly so waiters do not stampede.

The Official Account's token comes from `POST /cgi-bin/stable_token` (getStableAccessToken) by default, not
`GET /cgi-bin/token`: the property's account usually serves other systems too (its menu backend, a payment
service), and every `/cgi-bin/token` call replaces the token the others hold (the old one works five more
minutes), so two systems refreshing on their own schedules log each other out. The stable token is isolated
from those, and in its normal mode a repeated call returns the same token while it is valid (the platform
renews it in its last five minutes, old and new both working then). Its forced mode (limited to 20 a day, 30 s
apart) is never used: it would invalidate the token of every other holder. WeCom's `GET /cgi-bin/gettoken`
issues one token per app (corpid + the app's secret).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from gateway.errors import ProviderTokenUnavailable
from gateway.notify.channels.base import Outcome, http_outcome, post

OA_BASE_URL = "https://api.weixin.qq.com"
WECOM_BASE_URL = "https://qyapi.weixin.qq.com"

TOKEN_REJECTED = frozenset({40001, 40014, 42001})
"""A send's answer meaning its token is no longer good: drop it, fetch another, send once more."""

FETCH_RETRY = {-1: 2.0, 45009: 60.0, 45011: 60.0, 45033: 1.0}
"""Token-fetch answers worth asking again, and after how long: system busy, daily or minute quota, WeCom's
concurrency limit. Any other non-zero errcode from a token endpoint is a setting or console problem."""

FETCH_HINTS = {
    40001: "the secret is wrong (or belongs to another account or app)",
    40002: "grant_type must be client_credential",
    40013: "the appid or corpid is wrong",
    40091: "the secret is invalid",
    40125: "the appsecret is invalid",
    40164: "the gateway's public IP is not on the account's IP whitelist",
    41002: "the appid or corpid is missing",
    41004: "the secret is missing",
    60020: "the gateway's public IP is not among the WeCom app's trusted IPs",
}
"""What an operator has to fix when a token endpoint refuses, by errcode (the errmsg carries the detail,
such as the refused IP)."""


@dataclass(frozen=True, slots=True)
class TokenEndpoint:
    """How to ask for one app's token. `label` names the app in errors; the secret never appears in one."""

    label: str
    base_url: str
    method: Literal["GET", "POST"]
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None


def official_account_token(
    appid: str, secret: str, *, base_url: str = OA_BASE_URL, stable: bool = True
) -> TokenEndpoint:
    """The Official Account's token: getStableAccessToken (normal mode) unless `stable` is off."""
    base = base_url.rstrip("/")
    label = f"WeChat Official Account {appid}"
    if stable:
        body = {"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": False}
        return TokenEndpoint(label, base, "POST", "/cgi-bin/stable_token", body=body)
    params = {"grant_type": "client_credential", "appid": appid, "secret": secret}
    return TokenEndpoint(label, base, "GET", "/cgi-bin/token", params=params)


def wecom_token(corpid: str, corpsecret: str, *, base_url: str = WECOM_BASE_URL) -> TokenEndpoint:
    """A WeCom app's token: each app has its own secret, so its own token."""
    params = {"corpid": corpid, "corpsecret": corpsecret}
    return TokenEndpoint(f"WeCom {corpid}", base_url.rstrip("/"), "GET", "/cgi-bin/gettoken", params=params)


TokenUnavailable = ProviderTokenUnavailable
"""No token to send with; `outcome` is what every send waiting for it answers (a refusal or a retry)."""


def json_body(body: Mapping[str, Any]) -> bytes:
    """UTF-8 JSON with Chinese as itself: WeCom refuses `\\uXXXX` escapes (errcode 40033), and the same bytes
    for the same message on every attempt (WeCom's duplicate check compares the request's JSON)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class AccessTokens:
    """The cached token of one app and the one way its sends go out (`call`)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        endpoint: TokenEndpoint,
        *,
        margin: float = 300.0,
        hold: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.margin = margin
        self.hold = hold
        self.clock = clock
        self.fetches = 0
        """Token requests made: the platforms count them against a daily quota."""
        self._token: str | None = None
        self._fresh_until = 0.0
        self._failure: Outcome | None = None
        self._failed_until = 0.0
        self._inflight: asyncio.Future[str] | None = None

    def _cached(self) -> str:
        """The token if still fresh; the remembered failure if one holds; "" to fetch."""
        now = self.clock()
        if self._token is not None and now < self._fresh_until:
            return self._token
        if self._failure is not None and now < self._failed_until:
            raise TokenUnavailable(self._failure)
        return ""

    async def get(self) -> str:
        """A token to send with: the cached one, or the one fetch every caller meanwhile waits for."""
        token = self._cached()
        if token:
            return token
        if self._inflight is None or self._inflight.done():  # no await since _cached: one loop, one fetch
            self._inflight = asyncio.ensure_future(self._fetch())
            self._inflight.add_done_callback(_consume)
        # Shielded: the sender gives each send a deadline, and a send cancelled at its deadline must not
        # cancel the fetch the others wait for (behind a lock, each would then start its own in turn).
        return await asyncio.shield(self._inflight)

    def invalidate(self, token: str) -> None:
        """A send was told `token` is no longer good: forget it unless a newer one replaced it already."""
        if self._token == token:
            self._token = None
            self._fresh_until = 0.0

    async def _fetch(self) -> str:
        self.fetches += 1
        ep = self.endpoint
        url = f"{ep.base_url}{ep.path}"
        try:
            if ep.method == "POST":
                response = await self.client.post(
                    url, content=json_body(ep.body or {}), headers={"Content-Type": "application/json"}
                )
            else:
                response = await self.client.get(url, params=dict(ep.params))
        except httpx.HTTPError as exc:
            error = f"{ep.label} token: {type(exc).__name__}"
            raise self._failed(Outcome(False, retry=True, error=error), 1.0) from None
        judged = http_outcome(response)
        if not judged.ok:
            raise self._failed(
                Outcome(
                    False,
                    retry=judged.retry,
                    retry_after=judged.retry_after,
                    refused=not judged.retry,
                    status=judged.status,
                    error=f"{ep.label} token: {judged.error}",
                ),
                judged.retry_after or (1.0 if judged.retry else self.hold),
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise self._failed(
                Outcome(False, retry=True, status=200, error=f"{ep.label} token: no JSON"), 1.0
            )
        code = _errcode(answer)
        if code == 0 and isinstance(answer.get("access_token"), str) and answer["access_token"]:
            expires_in = float(answer.get("expires_in") or 7200)
            self._token = str(answer["access_token"])
            self._fresh_until = self.clock() + expires_in - min(self.margin, expires_in / 2)
            self._failure = None
            return self._token
        errmsg = str(answer.get("errmsg", ""))[:200]
        if code in FETCH_RETRY:
            wait = FETCH_RETRY[code]
            error = f"{ep.label} token: errcode {code} {errmsg}"
            raise self._failed(Outcome(False, retry=True, retry_after=wait, status=200, error=error), wait)
        hint = FETCH_HINTS.get(code, "the token endpoint refused the app's credentials")
        error = f"{ep.label} token refused, errcode {code}: {hint} ({errmsg})"
        raise self._failed(Outcome(False, refused=True, status=200, error=error), self.hold)

    def _failed(self, outcome: Outcome, seconds: float) -> TokenUnavailable:
        """Remember a failed fetch a while: the sends queued behind it answer the same and fetch nothing."""
        self._failure = outcome
        self._failed_until = self.clock() + seconds
        return TokenUnavailable(outcome)

    async def call(self, path: str, body: Mapping[str, Any]) -> Outcome | dict[str, Any]:
        """POST `body` as JSON to `path` with the token. The platform's JSON answer for the channel to judge,
        or an Outcome when there is none to judge: no token, a transport or HTTP failure, no JSON, or a
        token rejected again right after it was fetched."""
        content = json_body(body)
        rejected = ""
        for _ in range(2):
            try:
                token = await self.get()
            except TokenUnavailable as exc:
                failed: Outcome = exc.outcome
                return failed
            if token == rejected:
                error = f"{self.endpoint.label}: the token endpoint handed back the token just rejected"
                return Outcome(False, retry=True, status=200, error=error)
            outcome, response = await post(
                self.client,
                f"{self.endpoint.base_url}{path}",
                params={"access_token": token},
                content=content,
                headers={"Content-Type": "application/json"},
            )
            if not outcome.ok or response is None:
                return outcome
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                return Outcome(False, retry=True, status=response.status_code, error="answer is not JSON")
            if _errcode(answer) not in TOKEN_REJECTED:
                return answer
            rejected = token
            self.invalidate(token)
        error = (
            f"{self.endpoint.label}: a freshly fetched token was rejected too (errcode {_errcode(answer)})"
        )
        return Outcome(False, retry=True, status=200, error=error)


def _consume(fetch: asyncio.Future[str]) -> None:
    """Read a fetch's failure even when every waiter gave up on it (else asyncio logs it as never read)."""
    if not fetch.cancelled():
        fetch.exception()


def _errcode(answer: Mapping[str, Any]) -> int:
    try:
        return int(answer.get("errcode") or 0)
    except (TypeError, ValueError):
        return -1
