"""WeChat's and WeCom's servers, played locally: tokens, template messages, app messages and the event push.

One ThreadingHTTPServer answers what the channels call, the way the platforms answer (HTTP 200 with an
`errcode`):

- `POST /cgi-bin/stable_token` and `GET /cgi-bin/token` (the Official Account), `GET /cgi-bin/gettoken`
  (WeCom): tokens with `expires_in`; a stable token is the same while it has more than 5 minutes left, a
  classic one is new on every call (the previous one works 5 more minutes); `expire(app)` and `revoke(app)`
  end the current token early, so the next send gets 42001 or 40001/40014. Bad appid 40013, bad secret
  40001 (40125 when malformed), an address off the account's whitelist 40164.
- `POST /cgi-bin/message/template/send`: 43004 for an openid that unfollowed, 40003 for one the account never
  had, 40037 for an unknown template, 47003 for a value over its field type's limit; one message per openid
  and `client_msg_id` for 10 minutes. An accepted message is `shown` unless the resident muted the account,
  and, when `event_url` is set, WeChat's `TEMPLATESENDJOBFINISH` push follows it, signed with the
  server Token (and encrypted in safe mode).
- `POST /cgi-bin/message/send` (WeCom): 40033 for `\\uXXXX` escapes, 40056 for another app's agentid, 60020
  when the caller's IP is not trusted, `invaliduser` for members outside the app's visible range (81013
  when that is every recipient), and `enable_duplicate_check`: the same request JSON within
  `duplicate_check_interval` is answered but not shown again.

`script[path]` plays `Fault`s in order before the normal answers: an errcode, a delay, or (`after`) a delay
after the message was handled, which is a timeout the phone does not see.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import struct
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

TOKEN_PATHS = ("/cgi-bin/token", "/cgi-bin/stable_token", "/cgi-bin/gettoken")
TYPE_LIMITS = {"thing": 20, "character_string": 32, "number": 32, "letter": 32, "phrase": 5, "name": 10}
TIME_FORMAT = re.compile(r"^(\d{4}[-年/]\d{1,2}[-月/]\d{1,2}日?\s*)?\d{1,2}:\d{2}(:\d{2})?$")


@dataclass
class Fault:
    errcode: int | None = None
    errmsg: str = "scripted"
    status: int = 200
    delay: float = 0.0
    after: bool = False
    """Handle the request first (the message reaches the phone), then wait `delay` and answer normally."""
    answer: dict[str, Any] | None = None


@dataclass
class Issued:
    token: str
    app: str
    expires_at: float
    revoked: bool = False


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class Shown:
    """What reached a phone."""

    app: str
    user: str
    kind: str
    content: dict[str, Any]
    msgid: str


@dataclass
class Account:
    secret: str
    followers: set[str] = field(default_factory=set)
    unfollowed: set[str] = field(default_factory=set)
    muted: set[str] = field(default_factory=set)
    templates: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class App:
    secret: str
    agentid: int
    members: set[str] = field(default_factory=set)


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def encrypt(xml: bytes, encoding_aes_key: str, appid: str) -> str:
    """As WeChat encrypts a safe-mode push: random 16 bytes, length, XML, appid; PKCS#7 to 32; AES-CBC."""
    key = base64.b64decode(encoding_aes_key + "=")
    plain = os.urandom(16) + struct.pack(">I", len(xml)) + xml + appid.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def event_xml(fields: dict[str, str | int]) -> bytes:
    parts = [
        f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()
    ]
    return ("<xml>" + "".join(parts) + "</xml>").encode()


def signed_push(
    xml: bytes,
    token: str,
    *,
    encoding_aes_key: str | None = None,
    appid: str = "",
    to: str = "gh_0123456789ab",
    openid: str = "",
    timestamp: str | None = None,
    nonce: str | None = None,
) -> tuple[bytes, str]:
    """(body, query string) of a push as WeChat signs it; in safe mode the body is the encrypted envelope."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**9))
    query = {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if openid:
        query["openid"] = openid
    body = xml
    if encoding_aes_key is not None:
        sealed = encrypt(xml, encoding_aes_key, appid)
        body = event_xml({"ToUserName": to, "Encrypt": sealed})
        query["encrypt_type"] = "aes"
        query["msg_signature"] = signature(token, timestamp, nonce, sealed)
    return body, urllib.parse.urlencode(query)


def post(url: str, body: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """A plain POST that ignores proxy settings (the receivers are on the loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "text/xml"}, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


class WeChatServer:
    def __init__(self, *, expires_in: int = 7200) -> None:
        self.expires_in = expires_in
        self.lock = threading.Lock()
        self.accounts: dict[str, Account] = {}
        self.apps: dict[str, App] = {}
        self.whitelisted = True
        """The caller's IP is on the Official Account's IP whitelist."""
        self.trusted = True
        """The caller's IP is among the WeCom app's trusted IPs."""
        self.tokens: dict[str, Issued] = {}
        self.current: dict[str, str] = {}
        self.calls: list[Call] = []
        self.shown: list[Shown] = []
        self.script: dict[str, list[Fault]] = {}
        self.client_msg_ids: dict[tuple[str, str], tuple[float, str]] = {}
        self.duplicates: dict[tuple[str, str], tuple[float, str]] = {}
        self.event_url: str | None = None
        self.callback_token = ""
        self.encoding_aes_key: str | None = None
        self.event_delay = 0.0
        """Seconds between a template message's answer and its push (WeChat pushes when the job is done)."""
        self.pushed: list[tuple[int, bytes]] = []
        self._msgid = 3_487_542_469_355_618_000
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                receiver.handle(self, "GET", b"")

            def do_POST(self) -> None:
                receiver.handle(self, "POST", self.rfile.read(int(self.headers.get("content-length", 0))))

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> WeChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the platforms' consoles -----------------------------------------------------------------------------
    def account(
        self, appid: str, secret: str, *, followers: tuple[str, ...] = (), **templates: list[str]
    ) -> None:
        self.accounts[appid] = Account(secret, set(followers), templates=dict(templates))

    def app(self, corpid: str, secret: str, agentid: int, members: tuple[str, ...] = ()) -> None:
        self.apps[corpid] = App(secret, agentid, {m.lower() for m in members})

    def unfollow(self, appid: str, openid: str) -> None:
        with self.lock:
            acc = self.accounts[appid]
            acc.followers.discard(openid)
            acc.unfollowed.add(openid)

    def expire(self, app: str) -> None:
        """The current token's time is up: the next send with it gets 42001."""
        with self.lock:
            self.tokens[self.current[app]].expires_at = time.time() - 1

    def revoke(self, app: str) -> None:
        """The platform ends the current token early (another system forced a new one): 40001/40014."""
        with self.lock:
            self.tokens[self.current[app]].revoked = True

    def token_requests(self) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path in TOKEN_PATHS]

    def sends(self, path: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    def shown_to(self, user: str) -> list[Shown]:
        with self.lock:
            return [s for s in self.shown if s.user == user]

    # -- HTTP ------------------------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        parts = urllib.parse.urlsplit(h.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
        with self.lock:
            queue = self.script.get(parts.path)
            fault = queue.pop(0) if queue else None
        call = Call(method, parts.path, query, body)
        after: Callable[[], None] | None = None
        status = 200
        if fault is not None and not fault.after:
            time.sleep(fault.delay)
            status = fault.status
            call.answer = fault.answer or {"errcode": fault.errcode, "errmsg": fault.errmsg}
            with self.lock:
                self.calls.append(call)
        else:
            with self.lock:
                call.answer, after = self.route(method, parts.path, query, body)
                self.calls.append(call)
            if fault is not None:
                time.sleep(fault.delay)
        data = json.dumps(call.answer, ensure_ascii=False).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; encoding=utf-8")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            pass  # the caller gave up waiting
        if after is not None:
            after()

    def route(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[dict[str, Any], Callable[[], None] | None]:
        if path == "/cgi-bin/stable_token" and method == "POST":
            req = json.loads(body or b"{}")
            return self.oa_token(req, stable=True, force=bool(req.get("force_refresh"))), None
        if path == "/cgi-bin/token" and method == "GET":
            return self.oa_token(query, stable=False, force=False), None
        if path == "/cgi-bin/gettoken" and method == "GET":
            return self.wecom_token(query), None
        if path == "/cgi-bin/message/template/send" and method == "POST":
            return self.template_send(query, body)
        if path == "/cgi-bin/message/send" and method == "POST":
            return self.app_send(query, body), None
        return {"errcode": 404, "errmsg": f"no such api {path}"}, None

    # -- tokens (called with the lock held) ------------------------------------------------------------------
    def _issue(self, app: str, *, keep: bool, force: bool) -> dict[str, Any]:
        now = time.time()
        held = self.tokens.get(self.current.get(app, ""))
        if keep and held and not held.revoked and held.expires_at - now > 300:
            return {"access_token": held.token, "expires_in": int(held.expires_at - now)}
        if held is not None:
            if force:
                held.revoked = True
            else:
                held.expires_at = min(held.expires_at, now + 300)  # the old one works 5 more minutes
        token = f"{app}-{secrets.token_urlsafe(24)}"
        self.tokens[token] = Issued(token, app, now + self.expires_in)
        self.current[app] = token
        return {"access_token": token, "expires_in": self.expires_in}

    def oa_token(self, req: dict[str, Any], *, stable: bool, force: bool) -> dict[str, Any]:
        appid, secret = str(req.get("appid") or ""), str(req.get("secret") or "")
        if req.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if not self.whitelisted:
            return {
                "errcode": 40164,
                "errmsg": "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist",
            }
        if not appid:
            return {"errcode": 41002, "errmsg": "appid missing"}
        acc = self.accounts.get(appid)
        if acc is None:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if secret != acc.secret:
            if len(secret) != 32:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        return self._issue(appid, keep=stable and not force, force=force)

    def wecom_token(self, query: dict[str, str]) -> dict[str, Any]:
        corpid, secret = query.get("corpid", ""), query.get("corpsecret", "")
        app = self.apps.get(corpid)
        if app is None:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        if not secret:
            return {"errcode": 41004, "errmsg": "corpsecret missing"}
        if secret != app.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        return {"errcode": 0, "errmsg": "ok", **self._issue(corpid, keep=True, force=False)}

    def _holder(self, query: dict[str, str], invalid: int) -> tuple[str, dict[str, Any] | None]:
        token = query.get("access_token", "")
        if not token:
            return "", {"errcode": 41001, "errmsg": "access_token missing"}
        issued = self.tokens.get(token)
        if issued is None or issued.revoked:
            return "", {
                "errcode": invalid,
                "errmsg": "invalid credential, access_token is invalid or not latest",
            }
        if time.time() >= issued.expires_at:
            return "", {"errcode": 42001, "errmsg": "access_token expired"}
        return issued.app, None

    def _next_msgid(self) -> int:
        self._msgid += 1
        return self._msgid

    # -- the Official Account --------------------------------------------------------------------------------
    def template_send(
        self, query: dict[str, str], body: bytes
    ) -> tuple[dict[str, Any], Callable[[], None] | None]:
        appid, error = self._holder(query, 40001)
        if error is not None:
            return error, None
        acc = self.accounts[appid]
        req = json.loads(body)
        openid, tid = str(req.get("touser") or ""), str(req.get("template_id") or "")
        if openid in acc.unfollowed:
            return {"errcode": 43004, "errmsg": "require subscribe"}, None
        if openid not in acc.followers:
            return {"errcode": 40003, "errmsg": "invalid openid"}, None
        if tid not in acc.templates:
            return {"errcode": 40037, "errmsg": "invalid template_id"}, None
        data = req.get("data") or {}
        for key in acc.templates[tid]:
            value = str((data.get(key) or {}).get("value", ""))
            if not _fits(key, value):
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value invalid"}, None
        now = time.time()
        cmid = str(req.get("client_msg_id") or "")
        if cmid:
            seen = self.client_msg_ids.get((openid, cmid))
            if seen is not None and now - seen[0] < 600:
                return {"errcode": 0, "errmsg": "ok", "msgid": int(seen[1])}, None
        msgid = self._next_msgid()
        if cmid:
            self.client_msg_ids[(openid, cmid)] = (now, str(msgid))
        muted = openid in acc.muted
        if not muted:
            self.shown.append(Shown(appid, openid, "template", req, str(msgid)))
        after = None
        if self.event_url:
            status = "failed:user block" if muted else "success"
            after = self._pusher(appid, openid, msgid, status)
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}, after

    def _pusher(self, appid: str, openid: str, msgid: int, status: str) -> Callable[[], None]:
        url, token, aes = self.event_url or "", self.callback_token, self.encoding_aes_key

        def push() -> None:
            time.sleep(self.event_delay)
            xml = event_xml(
                {
                    "ToUserName": "gh_0123456789ab",
                    "FromUserName": openid,
                    "CreateTime": int(time.time()),
                    "MsgType": "event",
                    "Event": "TEMPLATESENDJOBFINISH",
                    "MsgID": msgid,
                    "Status": status,
                }
            )
            body, query = signed_push(xml, token, encoding_aes_key=aes, appid=appid, openid=openid)
            result = post(f"{url}?{query}", body)
            with self.lock:
                self.pushed.append(result)

        return push

    # -- WeCom -----------------------------------------------------------------------------------------------
    def app_send(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        corpid, error = self._holder(query, 40014)
        if error is not None:
            return error
        if b"\\u" in body:
            return {
                "errcode": 40033,
                "errmsg": "invalid charset. please check your request, if include \\uxxxx",
            }
        app = self.apps[corpid]
        req = json.loads(body)
        if req.get("agentid") != app.agentid:
            return {"errcode": 40056, "errmsg": "invalid agentid"}
        if not self.trusted:
            return {"errcode": 60020, "errmsg": "not allow to access from your ip, from ip: 127.0.0.1"}
        users = [u for u in str(req.get("touser") or "").split("|") if u]
        valid = [u for u in users if u.lower() in app.members]
        invalid = "|".join(u.lower() for u in users if u.lower() not in app.members)
        if not valid:
            return {"errcode": 81013, "errmsg": "user & party & tag all invalid"}
        kind = str(req.get("msgtype") or "")
        content = dict(req.get(kind) or {})
        if kind == "textcard":
            if not (content.get("title") and content.get("description") and content.get("url")):
                return {"errcode": 40058, "errmsg": "textcard needs title, description and url"}
            content["title"] = _bytes(str(content["title"]), 128)  # WeCom cuts what is longer
            content["description"] = _bytes(str(content["description"]), 512)
            content["btntxt"] = str(content.get("btntxt") or "详情")[:4]
        elif kind == "text":
            content["content"] = _bytes(str(content.get("content") or ""), 2048)
        else:
            return {"errcode": 40008, "errmsg": "invalid message type"}
        now = time.time()
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "invaliduser": invalid}
        answer.update(invalidparty="", invalidtag="", unlicenseduser="")
        if req.get("enable_duplicate_check") == 1:
            key = (corpid, json.dumps(req, sort_keys=True, ensure_ascii=False))
            seen = self.duplicates.get(key)
            if seen is not None and now - seen[0] < int(req.get("duplicate_check_interval") or 1800):
                return {**answer, "msgid": seen[1]}  # answered, not shown again
        msgid = f"msg{self._next_msgid()}"
        if req.get("enable_duplicate_check") == 1:
            self.duplicates[key] = (now, msgid)
        for user in valid:
            self.shown.append(Shown(f"{corpid}/{app.agentid}", user, kind, content, msgid))
        return {**answer, "msgid": msgid}


def _bytes(text: str, limit: int) -> str:
    return text.encode()[:limit].decode(errors="ignore")


def _fits(key: str, value: str) -> bool:
    kind = key.rstrip("0123456789")
    if kind == "time":
        return bool(TIME_FORMAT.match(value))
    if kind in ("character_string", "number", "letter"):
        return len(value) <= 32 and value.isascii()
    if kind == "phrase":
        return len(value) <= 5 and all("\u4e00" <= c <= "\u9fff" for c in value)
    return len(value) <= TYPE_LIMITS.get(kind, 200)


class CallbackSink:
    """The gateway's receipts endpoint as it hands a push to a channel: the raw body, the headers with the
    query string as `x-query`; 200 `success` (what WeChat expects), 403 for a push the channel refuses."""

    def __init__(self, handle: Callable[[bytes, dict[str, str]], Any]) -> None:
        self.results: list[Any] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers["x-query"] = urllib.parse.urlsplit(self.path).query
                try:
                    result = handle(body, headers)
                except ValueError as exc:
                    with sink.lock:
                        sink.refused.append(str(exc))
                    status, answer = 403, b"forbidden"
                else:
                    with sink.lock:
                        sink.results.append(result)
                    status, answer = 200, b"success"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/notify/receipts/wechat"

    def __enter__(self) -> CallbackSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
