"""Short-lived access tokens and longer refresh tokens, as JWTs signed with one server key.

The algorithm is pinned (HS256) on both sides: a token that names another (`none`, an RS/HS confusion) is
refused before its signature is looked at. `iss` and `aud` are required and checked, so a token made for
another service sharing the key cannot be replayed here. A refresh token carries the account's
`token_version`; signing out everywhere or changing the password bumps it and every older refresh token dies.
Access tokens are not revocable and live 15 minutes by default.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from gateway.errors import TokenError

ALGORITHM = "HS256"
ISSUER = "gas-guardian"
AUDIENCE = "gas-guardian-api"
Kind = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class Claims:
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

    def verify(self, token: str, kind: Kind) -> Claims:
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
        return Claims(
            username=str(claims["sub"]),
            role=str(claims.get("role", "")),
            version=int(claims.get("ver", 0)),
            kind=kind,
            expires=float(claims["exp"]),
        )
