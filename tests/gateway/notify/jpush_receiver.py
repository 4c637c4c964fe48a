"""A local JPush on 127.0.0.1: the Push API (`POST /v3/push`, `GET /v3/push/cid`) and the Report API
(`GET /v3/received/detail`, `POST /v3/status/message`) with the checks JPush documents, re-implemented here
from JPush's REST API v3 documentation and its SDKs, not imported from the code under test.

What it checks and answers as JPush does: HTTP Basic with AppKey:MasterSecret (401, code 1004); the push
object's shape (platform, audience, notification/message, options) with its refusals (1002 a missing field,
1003 a bad value, 1005 too large, 1009 an unknown key, 1011 no device for the audience); a cid must come
from this app's pool and be less than a day old, and a push with a cid that already succeeded is answered
with that push's result and not pushed again; the answer is {"sendno", "msg_id"}; every answer carries
X-Rate-Limit-Limit / -Remaining / -Reset, and past the minute's quota (shared by /v3/push and /v3/push/cid)
it is HTTP 429 with code 2002. The status interface is VIP-only (403, code 2006) unless `vip`.

Phones: `devices` maps a registration id to how it is reached: "jpush" (an Android phone on JPush's own
connection), a maker ("xiaomi", "huawei", "honor", "oppo", "vivo": the app is asleep and the maker's channel
carries the message), "ios" or "hmos". `arrive` is the phone telling JPush it has the message; until then
the Report API counts it sent, not received. `classified` is what a maker makes of a push's fields, by the
rules JPush's 厂商消息分类使用指南 gives for each maker.

Faults are scripted per path: a Fault with a status answers it instead of carrying the request out; one with
a delay carries the request out first and answers late, so a client that gives up has still pushed.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PLATFORMS = {"android", "ios", "winphone", "hmos", "quickapp"}
AUDIENCE_KEYS = {
    "tag",
    "tag_and",
    "tag_not",
    "alias",
    "registration_id",
    "segment",
    "abtest",
    "live_activity_id",
}
TOP_KEYS = {
    "platform",
    "audience",
    "notification",
    "message",
    "options",
    "cid",
    "sms_message",
    "inapp_message",
    "notification_3rd",
    "callback",
    "live_activity",
}
ANDROID_KEYS = {
    "alert",
    "title",
    "builder_id",
    "channel_id",
    "category",
    "priority",
    "style",
    "alert_type",
    "big_text",
    "inbox",
    "big_pic_path",
    "extras",
    "large_icon",
    "small_icon_uri",
    "icon_bg_color",
    "intent",
    "uri_activity",
    "uri_action",
    "badge_add_num",
    "badge_set_num",
    "badge_class",
    "sound",
    "show_begin_time",
    "show_end_time",
    "display_foreground",
    "custom_buttons",
}
"""`sound` is an Android key since JPush Android SDK 4.x (a custom ringtone for the app's own channel)."""
IOS_KEYS = {
    "alert",
    "sound",
    "badge",
    "content-available",
    "mutable-content",
    "category",
    "extras",
    "thread-id",
    "interruption-level",
}
HMOS_KEYS = {
    "alert",
    "title",
    "category",
    "large_icon",
    "intent",
    "badge_add_num",
    "badge_set_num",
    "test_message",
    "receipt_id",
    "extras",
    "style",
    "inbox",
    "push_type",
    "extra_data",
    "display_foreground",
    "sound",
    "sound_duration",
}
OPTIONS_KEYS = {
    "sendno",
    "time_to_live",
    "override_msg_id",
    "apns_production",
    "apns_collapse_id",
    "big_push_duration",
    "third_party_channel",
    "classification",
    "target_event",
    "test_message",
    "receipt_id",
    "active_push",
    "need_backup",
    "business_operation_code",
    "test_model",
    "alternate_set",
    "geofence",
    "portal_extra",
    "notification_3rd_ver",
    "auto_truncation",
    "mkt_enable",
    "notification_switch_filter",
    "unique_alias",
    "message_scenario_code",
}
VENDORS = {"xiaomi", "huawei", "honor", "meizu", "oppo", "vivo", "fcm", "nio", "asus", "hmos"}
VENDOR_KEYS = {
    "distribution",
    "distribution_fcm",
    "distribution_customize",
    "channel_id",
    "skip_quota",
    "classification",
    "push_mode",
    "importance",
    "category",
    "notify_level",
    "sound",
    "default_sound",
    "urgency",
    "receipt_id",
    "callback_id",
    "target_user_type",
    "large_icon",
    "small_icon_uri",
    "small_icon_color",
    "style",
    "big_text",
    "inbox",
    "big_pic_path",
    "only_use_vendor_style",
    "mi_template_id",
    "mi_template_param",
    "badge_operation_type",
    "badge_message_count",
    "add_badge",
}
INTERRUPTION_LEVELS = {"active", "critical", "passive", "time-sensitive"}
HUAWEI_SERVICE = {
    "IM",
    "VOIP",
    "SUBSCRIPTION",
    "TRAVEL",
    "HEALTH",
    "WORK",
    "ACCOUNT",
    "EXPRESS",
    "FINANCE",
    "DEVICE_REMINDER",
    "SYSTEM_REMINDER",
    "MAIL",
}
"""Huawei's service-and-communication categories (MARKETING is the other class; PLAY_VOICE is for data
messages only)."""
OPPO_SERVICE = {"IM", "ACCOUNT", "DEVICE_REMINDER", "ORDER", "TODO", "SUBSCRIPTION"}
VIVO_SYSTEM = {"IM", "ACCOUNT", "TODO", "DEVICE_REMINDER", "ORDER", "SUBSCRIPTION"}
MAKERS = {"xiaomi", "huawei", "honor", "oppo", "vivo"}
ANDROID = MAKERS | {"jpush"}
REPORT_COUNTS = (
    "jpush_received",
    "android_pns_sent",
    "android_pns_received",
    "ios_apns_sent",
    "ios_apns_received",
    "ios_msg_received",
    "hmos_hmpns_sent",
    "hmos_hmpns_received",
)
"""The per-msg_id counts /v3/received/detail answers (null where nothing was counted)."""
TTL_MAX = 3 * 86400
TTL_MAX_VIP = 10 * 86400
CID_LIFE = 86400.0
WINDOW = 60.0


@dataclass
class Fault:
    status: int = 200
    code: int | None = None
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds between carrying the request out and answering (a lost answer, for a client's timeout)."""


@dataclass
class Push:
    msg_id: str
    cid: str | None
    body: dict[str, Any]
    targets: list[str]
    at: float


@dataclass
class Call:
    method: str
    path: str
    status: int
    body: Any
    auth: str
    query: dict[str, list[str]] = field(default_factory=dict)


class Refusal(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class RateLimited(Refusal):
    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__(429, 2002, "Rate limit exceeded")
        self.headers = headers


class JPushReceiver:
    """One JPush app, on one ThreadingHTTPServer."""

    def __init__(
        self,
        app_key: str,
        master_secret: str,
        devices: dict[str, str],
        *,
        vip: bool = False,
        quota: int = 600,
        xiaomi_private_channels: tuple[str, ...] = (),
        oppo_channels: tuple[str, ...] = (),
    ) -> None:
        self.app_key = app_key
        self.master_secret = master_secret
        self.devices = dict(devices)
        self.vip = vip
        self.quota = quota
        self.xiaomi_private_channels = set(xiaomi_private_channels)
        self.oppo_channels = set(oppo_channels)
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.pushes: list[Push] = []
        self.script: dict[str, list[Fault]] = {}
        self.cids: dict[str, float] = {}  # issued cid -> when
        self.cid_answers: dict[str, dict[str, Any]] = {}  # cid -> the answer of its successful push
        self.arrived: dict[tuple[str, str], str] = {}  # (msg_id, registration id) -> the count it is in
        self._next_msg_id = 18100065056
        self._window_ends = 0.0
        self._remaining = quota
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                receiver.handle(self, "GET", b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.handle(self, "POST", body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> JPushReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what the tests look at ---------------------------------------------------------------------------
    def received(self, rid: str) -> list[Push]:
        """The pushes JPush carried out for a registration id."""
        with self.lock:
            return [p for p in self.pushes if rid in p.targets]

    def at(self, path: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    def arrive(self, rid: str, msg_id: str | None = None) -> None:
        """The phone has the message (its latest when no msg_id): JPush counts it received."""
        with self.lock:
            pushes = [p for p in self.pushes if rid in p.targets and (msg_id is None or p.msg_id == msg_id)]
            self.arrived[(pushes[-1].msg_id, rid)] = self._count(rid, received=True)

    def use_up_quota(self, reset: int) -> None:
        """The app's minute of Push API calls is spent; the window starts again in `reset` seconds."""
        with self.lock:
            self._remaining = 0
            self._window_ends = time.time() + reset

    def new_window(self) -> None:
        """The minute has passed: the app's quota is whole again."""
        with self.lock:
            self._window_ends = 0.0

    def classified(self, push: Push, maker: str) -> str:
        """What a maker's channel makes of this push, by the fields JPush passes it: "important" (rings, on
        the lock screen, no marketing quota) or why not."""
        options = push.body.get("options", {})
        fields = options.get("third_party_channel", {}).get(maker, {})
        android = push.body.get("notification", {}).get("android", {})
        classification = options.get("classification", fields.get("classification", 0))
        if maker == "xiaomi":
            channel = fields.get("channel_id") or android.get("channel_id")
            if channel not in self.xiaomi_private_channels:
                return f"not a private-message channel: {channel!r}"
            return "important"
        if maker == "huawei":
            if fields.get("importance") != "NORMAL" or fields.get("category") not in HUAWEI_SERVICE:
                return (
                    f"marketing: importance {fields.get('importance')!r}, category {fields.get('category')!r}"
                )
            return "important"
        if maker == "honor":
            if classification != 1 and fields.get("importance") != "NORMAL":
                return "marketing"
            return "important"
        if maker == "oppo":
            channel = fields.get("channel_id") or android.get("channel_id")
            if channel not in self.oppo_channels:
                return f"not a registered channel: {channel!r}"
            if fields.get("category") not in OPPO_SERVICE:
                return f"content and marketing: category {fields.get('category')!r}"
            if fields.get("notify_level") != 16:
                return f"quiet: notify_level {fields.get('notify_level')!r}"
            return "important"
        if maker == "vivo":
            if classification != 1:
                return "operations message"
            if fields.get("category") not in VIVO_SYSTEM:
                return f"system message in a non-system category {fields.get('category')!r}"
            return "important"
        raise ValueError(maker)

    # -- HTTP ---------------------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler, method: str, raw: bytes) -> None:
        parts = urllib.parse.urlsplit(h.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query)
        with self.lock:
            queue = self.script.get(path)
            fault = queue.pop(0) if queue else None
        auth = h.headers.get("authorization", "")
        headers: dict[str, str] = {"content-type": "application/json"}
        status, answer = 200, {}
        try:
            if fault is not None and fault.status != 200:
                headers.update(fault.headers)
                raise Refusal(fault.status, fault.code or 1000, fault.message or "scripted")
            push_api = path.startswith("/v3/push")
            self._authenticate(auth, report=not push_api)
            if push_api:
                headers.update(self._spend())
            answer = self._route(method, path, query, raw)
        except Refusal as r:
            status, answer = r.status, {"error": {"code": r.code, "message": r.message}}
            if isinstance(r, RateLimited):
                headers.update(r.headers)
        with self.lock:
            self.calls.append(Call(method, path, status, _json(raw), auth, query))
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        data = json.dumps(answer, ensure_ascii=False).encode()
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("content-length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up waiting

    def _authenticate(self, header: str, *, report: bool) -> None:
        expected = base64.b64encode(f"{self.app_key}:{self.master_secret}".encode()).decode()
        if header != f"Basic {expected}":
            if report:
                raise Refusal(401, 3001, "Basic authentication failed")
            raise Refusal(401, 1004, "Authen failed")

    def _spend(self) -> dict[str, str]:
        """One call of the app's minute (Push and cid calls share it); 429 past the quota."""
        now = time.time()
        with self.lock:
            if now >= self._window_ends:
                self._window_ends, self._remaining = now + WINDOW, self.quota
            reset = str(max(1, round(self._window_ends - now)))
            if self._remaining <= 0:
                headers = {"X-Rate-Limit-Limit": str(self.quota), "X-Rate-Limit-Remaining": "0"}
                headers["X-Rate-Limit-Reset"] = reset
                raise RateLimited(headers)
            self._remaining -= 1
            return {
                "X-Rate-Limit-Limit": str(self.quota),
                "X-Rate-Limit-Remaining": str(self._remaining),
                "X-Rate-Limit-Reset": reset,
            }

    def _route(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> Any:
        if path == "/v3/push/cid" and method == "GET":
            return self._cidlist(query)
        if path == "/v3/push":
            if method != "POST":
                raise Refusal(405, 1001, "Only support HTTP Post method")
            return self._push(raw)
        if path == "/v3/received/detail" and method == "GET":
            return self._received(query)
        if path == "/v3/status/message" and method == "POST":
            return self._status(raw)
        raise Refusal(404, 1000, f"no such resource {path}")

    # -- the Push API -------------------------------------------------------------------------------------
    def _cidlist(self, query: dict[str, list[str]]) -> dict[str, Any]:
        kind = (query.get("type") or ["push"])[0]
        if kind not in ("push", "schedule"):
            raise Refusal(400, 1003, "type is invalid")
        try:
            count = int((query.get("count") or ["1"])[0])
        except ValueError as exc:
            raise Refusal(400, 1003, "count is invalid") from exc
        count = max(1, min(count, 1000 if self.vip else 10))
        now = time.time()
        cids = [f"{self.app_key}-{uuid.uuid4()}" for _ in range(count)]
        with self.lock:
            self.cids.update((c, now) for c in cids)
        return {"cidlist": cids}

    def _push(self, raw: bytes) -> dict[str, Any]:
        body = _json(raw)
        if not isinstance(body, dict):
            raise Refusal(400, 1003, "the push object is not JSON")
        cid = body.get("cid")
        if cid is not None:
            with self.lock:
                issued = self.cids.get(cid)
                first = self.cid_answers.get(cid)
            if issued is None or time.time() - issued > CID_LIFE:
                raise Refusal(400, 1003, "cid is invalid")
            if first is not None:
                return first  # the first successful push's result, not a second push
        targets = self.validate(body)
        with self.lock:
            msg_id = str(self._next_msg_id)
            self._next_msg_id += 1
            self.pushes.append(Push(msg_id, cid, body, targets, time.time()))
            sendno = str(body.get("options", {}).get("sendno", 0))
            answer = {"sendno": sendno, "msg_id": msg_id}
            if cid is not None:
                self.cid_answers[cid] = answer
        return answer

    def validate(self, body: dict[str, Any]) -> list[str]:
        """JPush's checks of a push object; the registration ids it goes to."""
        _known(body, TOP_KEYS, "push")
        platform = body.get("platform")
        if platform is None or body.get("audience") is None:
            raise Refusal(400, 1002, "platform and audience are required")
        if platform != "all" and (
            not isinstance(platform, list) or not platform or not set(platform) <= PLATFORMS
        ):
            raise Refusal(400, 1003, f"platform is invalid: {platform!r}")
        platforms = PLATFORMS if platform == "all" else set(platform)
        if "notification" not in body and "message" not in body:
            raise Refusal(400, 1002, "notification or message is required")
        self._notification(body.get("notification", {}))
        self._options(body.get("options", {}))
        return self._audience(body["audience"], platforms)

    def _notification(self, n: Any) -> None:
        if not isinstance(n, dict):
            raise Refusal(400, 1003, "notification is invalid")
        android, ios, hmos = n.get("android"), n.get("ios"), n.get("hmos")
        if android is not None:
            _known(android, ANDROID_KEYS, "android")
            if not isinstance(android.get("alert", n.get("alert")), str):
                raise Refusal(400, 1002, "android alert is required")
            priority = android.get("priority", 0)
            if not isinstance(priority, int) or not -2 <= priority <= 2:
                raise Refusal(400, 1003, "android priority is -2..2")
            if "intent" in android and not isinstance((android["intent"] or {}).get("url"), str):
                raise Refusal(400, 1003, "android intent needs a url")
            if len(json.dumps(android, ensure_ascii=False).encode()) > 4000:
                raise Refusal(400, 1005, "android notification over 4000 bytes")
        if ios is not None:
            _known(ios, IOS_KEYS, "ios")
            alert = ios.get("alert", n.get("alert"))
            if not isinstance(alert, str | dict):
                raise Refusal(400, 1002, "ios alert is required")
            if isinstance(alert, dict):
                _known(
                    alert,
                    {"title", "subtitle", "body", "launch-image", "title-loc-key", "loc-key"},
                    "ios alert",
                )
            sound = ios.get("sound")
            if isinstance(sound, dict):
                _known(sound, {"critical", "name", "volume"}, "ios sound")
                if not 0 <= float(sound.get("volume", 1)) <= 1:
                    raise Refusal(400, 1003, "sound volume is 0..1")
            level = ios.get("interruption-level")
            if level is not None and level not in INTERRUPTION_LEVELS:
                raise Refusal(400, 1003, f"interruption-level is invalid: {level!r}")
            if len(json.dumps(ios, ensure_ascii=False, separators=(",", ":")).encode()) > 2000:
                raise Refusal(400, 1005, "ios notification over 2000 bytes")
        if hmos is not None:
            _known(hmos, HMOS_KEYS, "hmos")
            if not hmos.get("alert") or not hmos.get("category"):
                raise Refusal(400, 1002, "hmos alert and category are required")

    def _options(self, o: Any) -> None:
        if not isinstance(o, dict):
            raise Refusal(400, 1003, "options is invalid")
        _known(o, OPTIONS_KEYS, "options")
        ttl = o.get("time_to_live", 86400)
        if not isinstance(ttl, int) or not 0 <= ttl <= (TTL_MAX_VIP if self.vip else TTL_MAX):
            raise Refusal(400, 1003, f"time_to_live is invalid: {ttl!r}")
        if "apns_production" in o and not isinstance(o["apns_production"], bool):
            raise Refusal(400, 1003, "apns_production is a boolean")
        if o.get("classification", 0) not in (0, 1):
            raise Refusal(400, 1003, "classification is 0 or 1")
        collapse = o.get("apns_collapse_id")
        if collapse is not None and len(str(collapse).encode()) > 64:
            raise Refusal(400, 1003, "apns_collapse_id over 64 bytes")
        channels = o.get("third_party_channel", {})
        if not isinstance(channels, dict):
            raise Refusal(400, 1003, "third_party_channel is invalid")
        _known(channels, VENDORS, "third_party_channel")
        for maker, fields in channels.items():
            _known(fields, VENDOR_KEYS, f"third_party_channel.{maker}")
            importance = fields.get("importance")
            if importance is not None and importance not in (
                ("LOW", "NORMAL", "HIGH") if maker == "huawei" else ("LOW", "NORMAL")
            ):
                raise Refusal(400, 1003, f"{maker} importance is invalid: {importance!r}")
            if "notify_level" in fields:
                if fields["notify_level"] not in (1, 2, 16):
                    raise Refusal(400, 1003, "notify_level is 1, 2 or 16")
                if not fields.get("category"):
                    raise Refusal(400, 1002, "notify_level needs category")
            if fields.get("classification", 0) not in (0, 1):
                raise Refusal(400, 1003, "classification is 0 or 1")

    def _audience(self, audience: Any, platforms: set[str]) -> list[str]:
        if audience == "all":
            ids = list(self.devices)
        else:
            if not isinstance(audience, dict) or not audience:
                raise Refusal(400, 1003, "audience is invalid")
            _known(audience, AUDIENCE_KEYS, "audience")
            ids = audience.get("registration_id", [])
            if (
                not isinstance(ids, list)
                or not 1 <= len(ids) <= 1000
                or not all(isinstance(i, str) and i for i in ids)
            ):
                raise Refusal(400, 1003, "audience registration_id is invalid")
        targets = [i for i in ids if i in self.devices and _platform(self.devices[i]) in platforms]
        if not targets:
            raise Refusal(400, 1011, "cannot find user by this audience")
        return targets

    # -- the Report API -----------------------------------------------------------------------------------
    def _count(self, rid: str, *, received: bool) -> str:
        how = self.devices[rid]
        if how == "jpush":
            return "jpush_received"
        if how == "ios":
            return "ios_apns_received" if received else "ios_apns_sent"
        if how == "hmos":
            return "hmos_hmpns_received" if received else "hmos_hmpns_sent"
        return "android_pns_received" if received else "android_pns_sent"

    def _received(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        ids = [i for i in ",".join(query.get("msg_ids", [])).split(",") if i]
        if not 1 <= len(ids) <= 100:
            raise Refusal(400, 1003, "msg_ids: 1 to 100")
        names = REPORT_COUNTS
        out = []
        with self.lock:
            for msg_id in ids:
                push = next((p for p in self.pushes if p.msg_id == msg_id), None)
                if push is None:
                    continue
                row: dict[str, Any] = {"msg_id": msg_id, **dict.fromkeys(names)}
                for rid in push.targets:
                    sent = self._count(rid, received=False)
                    if sent.endswith("_sent"):
                        row[sent] = (row[sent] or 0) + 1
                    got = self.arrived.get((msg_id, rid))
                    if got:
                        row[got] = (row[got] or 0) + 1
                out.append(row)
        return out

    def _status(self, raw: bytes) -> dict[str, Any]:
        if not self.vip:
            raise Refusal(403, 2006, "non-VIP user")
        body = _json(raw)
        if not isinstance(body, dict) or "msg_id" not in body or "registration_ids" not in body:
            raise Refusal(400, 1002, "msg_id and registration_ids are required")
        ids = body["registration_ids"]
        if not isinstance(ids, list) or not 1 <= len(ids) <= 1000:
            raise Refusal(400, 1003, "registration_ids: 1 to 1000")
        msg_id = str(body["msg_id"])
        with self.lock:
            push = next((p for p in self.pushes if p.msg_id == msg_id), None)
            out: dict[str, Any] = {}
            for rid in ids:
                if rid not in self.devices:
                    status = 2
                elif push is None or rid not in push.targets:
                    status = 3
                else:
                    status = 0 if (msg_id, rid) in self.arrived else 1
                out[rid] = {"status": status}
        return out


def _platform(how: str) -> str:
    return "android" if how in ANDROID else how


def _known(obj: Any, keys: set[str], where: str) -> None:
    if not isinstance(obj, dict):
        raise Refusal(400, 1003, f"{where} is not an object")
    unknown = sorted(set(obj) - keys)
    if unknown:
        raise Refusal(400, 1009, f"{where} has keys JPush does not support: {unknown}")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
