"""Signed, expiring links: acknowledge an alarm, or enrol a phone for push, without logging in.

A token is `base64url(json).base64url(hmac-sha256)`. It binds what it allows (the purpose, the alarm, the
recipient) so a link forwarded to someone else acknowledges in the original recipient's name only, and an
acknowledgement token cannot be replayed as an enrolment. Short and URL-safe: it fits in an SMS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal

from gateway.errors import TokenError

Purpose = Literal["ack", "enroll"]


@dataclass(frozen=True, slots=True)
class Claims:
    purpose: Purpose
    recipient: str
    alarm_id: str
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the link-signing secret must be at least 16 bytes")
        self._secret = secret

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest()[:20])

    def sign(self, purpose: Purpose, recipient: str, *, expires: float, alarm_id: str = "") -> str:
        body = _b64(
            json.dumps(
                {"p": purpose, "r": recipient, "a": alarm_id, "e": int(expires)}, separators=(",", ":")
            ).encode()
        )
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, purpose: Purpose, *, now: float) -> Claims:
        body, _, mac = token.partition(".")
        # as bytes: compare_digest refuses str with non-ASCII characters (a mangled link) with TypeError
        if not body or not mac or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            raise TokenError("the link is not valid (it was changed or is not ours)")
        try:
            data = json.loads(_unb64(body))
            claims = Claims(data["p"], data["r"], data["a"], float(data["e"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError("the link is damaged") from exc
        if claims.purpose != purpose:
            raise TokenError(f"the link is for {claims.purpose!r}, not {purpose!r}")
        if claims.expires < now:
            raise TokenError("the link has expired")
        return claims
