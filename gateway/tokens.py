"""Every token the gateway signs, in one place: the API's sign-in tokens and the links sent to phones.

**Access and refresh tokens** (`TokenIssuer`) are JWTs signed with one server key. The algorithm is pinned
(HS256) on both sides: a token that names another (`none`, an RS/HS confusion) is refused before its
signature is looked at. `iss` and `aud` are required and checked, so a token made for another service
sharing the key cannot be replayed here. A refresh token carries the account's `token_version`; signing out
everywhere or changing the password bumps it and every older token dies. Access tokens live 15 minutes by
default.

**Links** (`Signer`) acknowledge an alarm or enrol a phone for push without signing in. A link token is
`base64url(json).base64url(hmac-sha256)`. It binds what it allows (the purpose, the alarm, the recipient) so
a link forwarded to someone else acknowledges in the original recipient's name only, and an
acknowledgement token cannot be replayed as an enrolment. Short and URL-safe: it fits in an SMS.

Both refuse with `gateway.errors.TokenError`, whose message says why (for logs, never for the caller).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from gateway.errors import TokenError

# -- sign-in tokens (JWT) ---------------------------------------------------------------------------------

ALGORITHM = "HS256"
ISSUER = "gas-guardian"
AUDIENCE = "gas-guardian-api"
Kind = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    username: str
    role: str
    version: int
    kind: Kind
    expires: float


class TokenIssuer:
    def __init__(
        self,
        key: bytes,
        *,
        clock: Callable[[], float],
        access_seconds: float = 900.0,
        refresh_seconds: float = 14 * 86400.0,
    ) -> None:
        if len(key) < 32:
            raise ValueError("the API signing key must be at least 32 bytes")
        self.key = key
        self.clock = clock
        self.access_seconds = access_seconds
        self.refresh_seconds = refresh_seconds

    @staticmethod
    def new_key() -> bytes:
        return secrets.token_bytes(32)

    def issue(self, username: str, role: str, version: int, kind: Kind) -> tuple[str, float]:
        now = self.clock()
        ttl = self.access_seconds if kind == "access" else self.refresh_seconds
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": username,
            "role": role,
            "ver": version,
            "typ": kind,
            "iat": int(now),
            "exp": int(now + ttl),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.key, algorithm=ALGORITHM), ttl

    def verify(self, token: str, kind: Kind) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss", "typ"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f"token refused: {exc}") from exc
        if claims.get("typ") != kind:
            raise TokenError(f"a {claims.get('typ')} token where a {kind} token is needed")
        # PyJWT checks `exp` against the wall clock; ours may be a replay clock
        if float(claims["exp"]) <= self.clock():
            raise TokenError("token expired")
        return AccessClaims(
            username=str(claims["sub"]),
            role=str(claims.get("role", "")),
            version=int(claims.get("ver", 0)),
            kind=kind,
            expires=float(claims["exp"]),
        )


# -- links (HMAC) ----------------------------------------------------------------------------------------

Purpose = Literal["ack", "enroll"]


@dataclass(frozen=True, slots=True)
class LinkClaims:
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

    def callback_key(self, name: str) -> str:
        """The secret part of a provider's callback URL (`/notify/receipts/{name}/{key}`): providers that
        sign nothing (Aliyun's receipt pushes) prove they were given the URL by knowing it."""
        return self._mac(f"callback:{name}")

    def callback_key_ok(self, name: str, key: str) -> bool:
        return hmac.compare_digest(key.encode(), self.callback_key(name).encode())

    def verify(self, token: str, purpose: Purpose, *, now: float) -> LinkClaims:
        body, _, mac = token.partition(".")
        # as bytes: compare_digest refuses str with non-ASCII characters (a mangled link) with TypeError
        if not body or not mac or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            raise TokenError("the link is not valid (it was changed or is not ours)")
        try:
            data = json.loads(_unb64(body))
            claims = LinkClaims(data["p"], data["r"], data["a"], float(data["e"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError("the link is damaged") from exc
        if claims.purpose != purpose:
            raise TokenError(f"the link is for {claims.purpose!r}, not {purpose!r}")
        if claims.expires < now:
            raise TokenError("the link has expired")
        return claims
