"""Real HTTP endpoints for the notification tests: a Web Push service that checks VAPID and decrypts, and a
scriptable receiver for apprise json://, the webhook and a chat bot. Faults are scripted per path."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Fault:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int
    decrypted: dict[str, Any] | None = None
    error: str = ""
    answer: bytes = b""


class PhoneKeys:
    """A browser's push subscription: a P-256 key pair and an auth secret."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.auth = os_random(16)
        self.public = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def subscription(self, endpoint: str) -> dict[str, Any]:
        return {"endpoint": endpoint, "keys": {"p256dh": b64(self.public), "auth": b64(self.auth)}}


def os_random(n: int) -> bytes:
    import os

    return os.urandom(n)


class Receiver:
    """One ThreadingHTTPServer; `script[path]` plays faults in order, then answers `default[path-prefix]`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: dict[str, list[Fault]] = {}
        self.phones: dict[str, PhoneKeys] = {}
        self.gone: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.handle(self, body)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # a real receiver's listen backlog (socketserver's default is 5)
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def phone(self, name: str) -> dict[str, Any]:
        keys = self.phones[name] = PhoneKeys()
        return keys.subscription(f"{self.url}/push/{name}")

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        path = h.path
        with self.lock:
            queue = self.script.get(path)
            fault = queue.pop(0) if queue else None
        req = Request(path, {k.lower(): v for k, v in h.headers.items()}, body, time.time(), 0)
        if fault is None:
            fault = self.default(path, req)
        if fault.delay:
            time.sleep(fault.delay)
        req.status, req.answer = fault.status, fault.body
        with self.lock:
            self.requests.append(req)
        try:
            h.send_response(fault.status)
            for k, v in fault.headers.items():
                h.send_header(k, v)
            h.send_header("content-length", str(len(fault.body)))
            h.end_headers()
            h.wfile.write(fault.body)
        except OSError:
            pass  # the client gave up (a timeout fault)

    def default(self, path: str, req: Request) -> Fault:
        if path.startswith("/push/"):
            name = path.removeprefix("/push/")
            if name in self.gone:
                return Fault(410)
            try:
                req.decrypted = self.verify_push(name, req)
            except Exception as exc:
                req.error = f"{type(exc).__name__}: {exc}"
                return Fault(400, exc.__class__.__name__.encode())
            return Fault(201)
        if path.startswith("/bot"):
            return Fault(200, b'{"errcode":0,"errmsg":"ok"}', {"content-type": "application/json"})
        return Fault(200, b"{}", {"content-type": "application/json"})

    def verify_push(self, name: str, req: Request) -> dict[str, Any]:
        """What a real push service checks (RFC 8292 VAPID, TTL) and what the phone does (RFC 8291)."""
        auth = req.headers["authorization"]
        assert auth.startswith("vapid "), auth
        params = dict(p.strip().split("=", 1) for p in auth[6:].split(","))
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(params["k"]))
        claims = jwt.decode(params["t"], key, algorithms=["ES256"], audience=self.url)
        assert claims["exp"] > time.time() and claims["exp"] <= time.time() + 24 * 3600
        assert claims["sub"].startswith(("mailto:", "https:"))
        assert int(req.headers["ttl"]) > 0
        assert req.headers["content-encoding"] == "aes128gcm"
        phone = self.phones[name]
        plain = http_ece.decrypt(
            req.body, private_key=phone.private, auth_secret=phone.auth, version="aes128gcm"
        )
        return dict(json.loads(plain))

    def at(self, prefix: str, status: int | None = None) -> list[Request]:
        """Requests to paths starting with `prefix`; with `status`, only those answered so (and for bots,
        only those the bot took: HTTP 200 with errcode 0)."""
        with self.lock:
            return [
                r
                for r in self.requests
                if r.path.startswith(prefix)
                and (status is None or r.status == status)
                and (status is None or b'"errcode"' not in r.answer or b'"errcode":0' in r.answer)
            ]
