"""What WeChat pushes to an Official Account's server URL, read safely: the signed query (`signature`,
`timestamp`, `nonce`: sha1 of the sorted Token, timestamp and nonce), a timestamp within 5 minutes, each
(timestamp, nonce) read once, and in safe mode (an EncodingAESKey set) `msg_signature` over the encrypted
body, which is then decrypted; the flat `<xml>` without DTDs. The account's channel (`wechat_oa.py`) reads
receipts and follow events out of what this hands it.

WeChat signs the query string rather than the body, so the gateway's receipt endpoint passes the query
string in the header mapping as `x-query`. Plain-text mode signs only the query: safe mode is the one to
run in production.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SIGNATURE_SKEW = 300.0
EVENT_BYTES = 64 * 1024


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def callback_signature(token: str, timestamp: str, nonce: str, encrypt: str | None = None) -> str:
    """WeChat's signature of a push: sha1 of the sorted Token, timestamp and nonce (and, in safe mode,
    the encrypted body), concatenated."""
    return _sha1(token, timestamp, nonce) if encrypt is None else _sha1(token, timestamp, nonce, encrypt)


def decrypt_event(encrypt: str, encoding_aes_key: str, appid: str) -> bytes:
    """A safe-mode push's body: AES-256-CBC with the key from the EncodingAESKey and its first 16 bytes as
    the IV, PKCS#7 to 32-byte blocks; inside, 16 random bytes, the length (4 bytes, big-endian), the XML
    and the appid it was sent for."""
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("the EncodingAESKey is not 43 base64 characters")
    try:
        data = base64.b64decode(encrypt, validate=True)
    except ValueError:
        raise ValueError("Encrypt is not base64") from None
    if not data or len(data) % 16:
        raise ValueError("Encrypt is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 32 or len(plain) < 20 + pad:
        raise ValueError("bad padding in the encrypted event")
    content = plain[16:-pad]
    (length,) = struct.unpack(">I", content[:4])
    if 4 + length > len(content):
        raise ValueError("bad length in the encrypted event")
    if content[4 + length :].decode(errors="replace") != appid:
        raise ValueError("the encrypted event is for another appid")
    return content[4 : 4 + length]


def parse_xml(body: bytes) -> dict[str, str]:
    """The flat `<xml>` of a push, as text by tag. No DTDs: WeChat never sends one, and an entity is how a
    body would try to make the parser do more than read."""
    if len(body) > EVENT_BYTES:
        raise ValueError("event too large")
    if b"<!" in body.replace(b"<![CDATA[", b""):
        raise ValueError("event with a DTD or declaration")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"event is not XML: {exc}") from None
    if root.tag != "xml":
        raise ValueError("event is not a WeChat <xml> push")
    return {child.tag: (child.text or "").strip() for child in root}


def query_of(headers: Mapping[str, str]) -> dict[str, str]:
    """The signed query string the receipt endpoint passed on as `x-query`, by name."""
    lowered = {k.lower(): v for k, v in headers.items()}
    query = urllib.parse.parse_qs(lowered.get("x-query", ""), keep_blank_values=True)
    return {k: v[0] for k, v in query.items()}


class ServerPushes:
    """One account's pushes: verified, decrypted, and each read once. Thread-safe: the receipts endpoint
    may run on a worker thread."""

    def __init__(
        self,
        token: str | None,
        encoding_aes_key: str | None,
        appid: str,
        clock: Callable[[], float],
    ) -> None:
        """`token`: the server configuration's Token (None: no push can be verified, all are refused)."""
        self.token = token
        self.encoding_aes_key = encoding_aes_key
        self.appid = appid
        self.clock = clock
        self._lock = threading.Lock()
        self._nonces: dict[tuple[str, str], float] = {}  # (timestamp, nonce) of pushes read -> when
        self._pruned_at = 0.0

    def verify(self, query: Mapping[str, str]) -> str:
        """The Token, after checking the push's query signature and age; ValueError if not WeChat's."""
        if self.token is None:
            raise ValueError("wechat: no callback_token is set, so no push can be verified")
        timestamp, nonce, signature = (query.get(k, "") for k in ("timestamp", "nonce", "signature"))
        if not (timestamp and nonce and signature):
            raise ValueError("wechat push without signature, timestamp and nonce (x-query)")
        if not hmac.compare_digest(callback_signature(self.token, timestamp, nonce), signature.lower()):
            raise ValueError("wechat push signature does not match")
        try:
            age = abs(self.clock() - float(timestamp))
        except ValueError:
            raise ValueError("wechat push timestamp is not a number") from None
        if age > SIGNATURE_SKEW:
            raise ValueError(f"wechat push timestamp is {age:.0f} s off")
        return self.token

    def verify_url(self, query: str) -> str:
        """The console's check of the server URL (`GET ?signature&timestamp&nonce&echostr`): the echostr to
        answer with, once the signature holds; ValueError otherwise."""
        parsed = query_of({"x-query": query})
        self.verify(parsed)
        return parsed.get("echostr", "")

    def read(self, body: bytes, headers: Mapping[str, str]) -> dict[str, str] | None:
        """A push's fields, decrypted in safe mode; None for one read already (WeChat's retry of it, or a
        replay of its query with another body). ValueError for anything that is not the account's push."""
        query = query_of(headers)
        token = self.verify(query)
        fields = parse_xml(body)
        if self.encoding_aes_key is not None:
            encrypt = fields.get("Encrypt", "")
            expected = callback_signature(token, query["timestamp"], query["nonce"], encrypt)
            if not encrypt or not hmac.compare_digest(expected, query.get("msg_signature", "").lower()):
                raise ValueError("wechat push: safe mode needs Encrypt signed by msg_signature")
            fields = parse_xml(decrypt_event(encrypt, self.encoding_aes_key, self.appid))
        elif "MsgType" not in fields:
            raise ValueError("wechat push is encrypted but no encoding_aes_key is set")
        if self._seen(query["timestamp"], query["nonce"]):
            return None
        return fields

    def _seen(self, timestamp: str, nonce: str) -> bool:
        """Whether a push with this (timestamp, nonce) was read already; those older than twice the
        accepted skew are let go once a minute (their timestamps are refused anyway)."""
        now = self.clock()
        with self._lock:
            if now - self._pruned_at > 60.0:
                self._nonces = {k: at for k, at in self._nonces.items() if now - at <= 2 * SIGNATURE_SKEW}
                self._pruned_at = now
            key = (timestamp, nonce)
            if key in self._nonces:
                return True
            self._nonces[key] = now
            return False
