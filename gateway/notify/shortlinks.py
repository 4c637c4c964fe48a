"""Short links for SMS: an Aliyun template variable takes 35 characters and a signed acknowledgement link is
well over 100, so the SMS carries `{origin}/s/{code}` and `GET /s/{code}` redirects to the full link.

The code is drawn from `secrets` (10 base62 characters, 59.5 bits): it is as good as the link it stands for
until that link expires, so it must not be guessable, and the route is rate-limited per client. It is kept
with the delivery's reference (Aliyun's OutId): the same SMS sent again, even after a restart, carries the
same code. Minting happens at send time on the channel's task, never while planning. The codes asked for
while one commit runs wait and go in the next, together (natural batching, as the ingest does): a storm of
500 SMS costs a few commits, not 500 queued one behind another. A reference this process has already
shortened costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from gateway.errors import TokenError
from gateway.tokens import Signer

log = logging.getLogger(__name__)

ALPHABET = string.digits + string.ascii_letters
CODE_CHARS = 10
"""62^10 ≈ 2^59.5 codes."""
PATH = "/s/"
REMEMBERED = 10_000
"""References this process remembers the code of (a retry within the process asks nothing)."""


class ShortLinkStore(Protocol):
    """Where codes are kept: the relational store (gateway.store.short_links)."""

    async def claim(self, code: str, ref: str, url: str, expires: float) -> str | None: ...
    async def claim_many(self, rows: list[tuple[str, str, str, float]]) -> list[str | None]: ...
    async def target(self, code: str) -> tuple[str, float] | None: ...
    async def purge(self, now: float) -> int: ...


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))


def origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class ShortLinks:
    def __init__(
        self, store: ShortLinkStore, signer: Signer, public_url: str, *, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.signer = signer
        self.origin = origin(public_url)
        self.clock = clock
        self._codes: OrderedDict[str, str] = OrderedDict()  # ref -> code
        self._waiting: list[tuple[tuple[str, str, str, float], asyncio.Future[str | None]]] = []
        self._writing = asyncio.Lock()

    def fits(self, limit: int) -> bool:
        return len(self.origin) + len(PATH) + CODE_CHARS <= limit

    async def shorten(self, ref: str, url: str, limit: int) -> str | None:
        """A link of at most `limit` characters to `url` (an acknowledgement link) for the delivery `ref`:
        the link itself if it fits, else a short link; None if neither can be had (the origin is too long
        for a short link, the link is not ours or has expired, the store is away)."""
        if len(url) <= limit:
            return url
        if not self.fits(limit):
            return None
        code = self._codes.get(ref)
        if code is None:
            token = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]
            try:
                expires = self.signer.verify(token, "ack", now=self.clock()).expires
            except TokenError:
                return None
            code = await self._claim(ref, url, expires)
            if code is None:
                code = await self.store.claim(new_code(), ref, url, expires)  # one more draw, alone
            if code is None:
                return None
            self._codes[ref] = code
            while len(self._codes) > REMEMBERED:
                self._codes.popitem(last=False)
        return f"{self.origin}{PATH}{code}"

    async def _claim(self, ref: str, url: str, expires: float) -> str | None:
        """Join the next batch of claims; the first to find no commit running writes everyone's. Bounded
        by the channels' concurrency: each waiting claim is one SMS being sent."""
        done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(((new_code(), ref, url, expires), done))
        async with self._writing:
            if not done.done():
                batch, self._waiting = self._waiting, []
                rows = list({row[1]: row for row, _ in reversed(batch)}.values())  # one row per delivery
                codes: dict[str, str | None] = {}
                try:
                    found = await self.store.claim_many(rows)
                    codes = dict(zip((ref for _, ref, _, _ in rows), found, strict=True))
                finally:  # a waiter is never left hanging; one given None draws again alone
                    for row, waiter in batch:
                        if not waiter.done():
                            waiter.set_result(codes.get(row[1]))
        return await done

    async def target(self, code: str) -> str | None:
        """The link a code stands for, while that link is good; None for a code unknown or expired (told
        apart nowhere: the same query runs for both, and the caller answers both alike)."""
        found = await self.store.target(code)
        if found is None:
            return None
        url, expires = found
        return url if expires >= self.clock() else None

    async def purge(self) -> int:
        return await self.store.purge(self.clock())
