"""Residents' broker passwords, sealed: AES-256-GCM under a key the gateway makes on first use and keeps
with its other secrets (the outbox's `secret` table, readable by the gateway's user only).

The relational store is shared with staff tools and backed up; a resident's Home Assistant password must
not sit there in the clear. Each seal has its own random nonce; the household's key ("site/household") is
the associated data, so a sealed password copied onto another household's row does not open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_NAME = "home-assistant-seal"
_NONCE = 12


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, password: str, owner: str) -> str:
        if not password:
            return ""
        nonce = os.urandom(_NONCE)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, password.encode(), owner.encode())).decode()

    def open(self, sealed: str, owner: str) -> str:
        """The password; ValueError when the seal is damaged or belongs to another household."""
        if not sealed:
            return ""
        blob = base64.b64decode(sealed)
        try:
            return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], owner.encode()).decode()
        except InvalidTag as exc:
            raise ValueError(f"sealed password for {owner} does not open with this gateway's key") from exc
