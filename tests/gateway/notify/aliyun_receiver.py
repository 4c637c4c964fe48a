"""A local Aliyun on 127.0.0.1: Dysmsapi (SendSms, QuerySendDetails) and Dyvmsapi (SingleCallByTts) behind
the API gateway's checks, and the HTTP batch pushes (SmsReport, VoiceReport) Aliyun makes to a receipt URL.

The gateway's checks are re-implemented here from the documentation, not imported from the code under test:
the signature (RPC v1, HMAC-SHA1 over the sorted, percent-encoded parameters, key = secret + "&"), a
Timestamp within 15 minutes, a SignatureNonce not seen in the last 15 minutes, a known AccessKeyId. Refusals
look like Aliyun's: HTTP 400 (404 for an unknown key) with {"RequestId", "HostId", "Code", "Message",
"Recommend"}. The products answer HTTP 200 with their own `Code` (OK, isv.*), keep what they took, and apply
their limits (SMS: a day's flow control per number and signature; calls: 1 a minute, 5 an hour, 20 a day per
number). Faults are scripted per action; a delay comes after the request was carried out, so a client that
gives up and sends again without looking would send twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHINA = timezone(timedelta(hours=8))
WINDOW = 15 * 60
"""How far a Timestamp may be from the gateway's clock, and how long a nonce is remembered."""
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
COMMON = ("Action", "Version", "AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion")
PRODUCTS = {
    "dysmsapi": ("2017-05-25", ("SendSms", "QuerySendDetails")),
    "dyvmsapi": ("2017-05-25", ("SingleCallByTts",)),
}
CALL_LIMITS = ((60, 1, "分钟级"), (3600, 5, "小时级"), (86400, 20, "天级"))
CALL_STATUS = {
    "200000": "用户听完语音",
    "200001": "用户提前挂机未完整收听",
    "200002": "用户占线",
    "200003": "用户收到呼叫但未接听",
    "200005": "被叫用户无法接通",
    "200007": "用户无法接通(不在服务区)",
    "200010": "关机",
    "200011": "停机",
}


def pop_encode(text: str) -> str:
    """RFC 3986, byte by byte, as the documentation states it: only A-Z a-z 0-9 - _ . ~ stay literal."""
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in text.encode())


def expected_signature(method: str, params: dict[str, str], secret: str) -> tuple[str, str]:
    """(Signature, StringToSign) as the API gateway computes them."""
    canonical = "&".join(
        f"{pop_encode(k)}={pop_encode(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )
    to_sign = f"{method}&{pop_encode('/')}&{pop_encode(canonical)}"
    mac = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode(), to_sign


def china(ts: float) -> str:
    return datetime.fromtimestamp(ts, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def china_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, CHINA).strftime("%Y%m%d")


def mainland_mobile(number: str) -> bool:
    return re.fullmatch(r"1[3-9]\d{9}", number) is not None


@dataclass
class Fault:
    """What the next request for an action meets instead of the normal answer."""

    code: str = ""
    """Answer with this Code (an error); empty: the normal answer."""
    message: str = ""
    status: int = 200
    delay: float = 0.0
    """Seconds to wait before answering (after the request was carried out, unless carry_out is False)."""
    carry_out: bool = True
    """Whether the request is still carried out (an SMS kept, a call placed) before the answer."""


@dataclass
class Sms:
    phone: str
    sign_name: str
    template_code: str
    params: dict[str, str]
    content: str
    out_id: str
    biz_id: str
    at: float
    send_status: int = 1
    """1 waiting for the report, 2 failed, 3 delivered (QuerySendDetails' SendStatus)."""
    err_code: str = ""
    received_at: float | None = None


@dataclass
class Call:
    called: str
    show_number: str
    tts_code: str
    params: dict[str, str]
    play_times: int
    out_id: str
    call_id: str
    at: float
    status_code: str = ""
    ended_at: float | None = None


@dataclass
class Seen:
    """One request as the gateway got it, and what it answered."""

    product: str
    method: str
    params: dict[str, str]
    status: int = 0
    code: str = ""
    at: float = 0.0

    @property
    def action(self) -> str:
        return self.params.get("Action", "")


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    delay: float = 0.0


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


class AliyunReceiver:
    """Both products on one ThreadingHTTPServer: `sms_url` and `voice_url` are the endpoints."""

    def __init__(
        self,
        keys: dict[str, str],
        *,
        sign_names: tuple[str, ...] = ("燃气卫士",),
        sms_templates: dict[str, str] | None = None,
        tts_templates: dict[str, str] | None = None,
        show_numbers: tuple[str, ...] = (),
        day_limit: int = 50,
        account_day_limit: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = dict(keys)
        self.sign_names = sign_names
        self.sms_templates = sms_templates or {"SMS_470001": "${place}发生${what}, 请立即处理. 确认 ${link}"}
        self.tts_templates = tts_templates or {"TTS_470002": "燃气卫士报警, ${place}发生${what}, 请立即处理"}
        self.show_numbers = show_numbers
        self.day_limit = day_limit
        self.account_day_limit = account_day_limit
        self.clock = clock
        self.script: dict[str, list[Fault]] = {}
        self.sms: list[Sms] = []
        self.calls: list[Call] = []
        self.seen: list[Seen] = []
        self.nonces: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()
        self._stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                receiver._handle(self, b"")

            def do_POST(self) -> None:
                receiver._handle(self, self.rfile.read(int(self.headers.get("content-length", 0))))

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dysmsapi/"

    @property
    def voice_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dyvmsapi/"

    def __enter__(self) -> AliyunReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def fault(self, action: str, *faults: Fault) -> None:
        with self.lock:
            self.script.setdefault(action, []).extend(faults)

    def requests(self, action: str, code: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.action == action and (code is None or s.code == code)]

    # -- the API gateway ----------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        url = urllib.parse.urlsplit(h.path)
        product = url.path.strip("/")
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if body:
            params.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        seen = Seen(product, h.command, params, at=self.clock())
        try:
            answer = self._gateway(product, h.command, params)
        except Refusal as r:
            host = f"{product}.aliyuncs.com"
            recommend = f"https://api.aliyun.com/troubleshoot?q={r.code}&product={product}"
            answer = Answer(
                r.status,
                {
                    "RequestId": request_id(),
                    "HostId": host,
                    "Code": r.code,
                    "Message": r.message,
                    "Recommend": recommend,
                },
            )
        seen.status, seen.code = answer.status, str(answer.body.get("Code", ""))
        with self.lock:
            self.seen.append(seen)
        if answer.delay:
            self._stopping.wait(answer.delay)
        data = json.dumps(answer.body, ensure_ascii=False).encode()
        try:
            h.send_response(answer.status)
            h.send_header("Content-Type", "application/json;charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up waiting

    def _gateway(self, product: str, method: str, params: dict[str, str]) -> Answer:
        if product not in PRODUCTS:
            raise Refusal(404, "InvalidProduct.NotFound", "Specified product is not found.")
        for name in (*COMMON, "SignatureNonce", "Timestamp"):
            if not params.get(name):
                raise Refusal(
                    400,
                    "MissingParameter",
                    f'The input parameter "{name}" that is mandatory for processing this request is not supplied.',
                )
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            raise Refusal(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            raise Refusal(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
        try:
            stamp = (
                datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
            )
        except ValueError:
            raise Refusal(
                400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."
            ) from None
        now = self.clock()
        if abs(now - stamp) > WINDOW:
            raise Refusal(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        signature, to_sign = expected_signature(method, params, secret)
        if not hmac.compare_digest(signature.encode(), params["Signature"].encode()):
            raise Refusal(
                400,
                "SignatureDoesNotMatch",
                f"Specified signature is not matched with our calculation. server string to sign is:{to_sign}",
            )
        nonce = (params["AccessKeyId"], params["SignatureNonce"])
        with self.lock:
            self.nonces = {n: at for n, at in self.nonces.items() if at > now - WINDOW}
            if nonce in self.nonces:
                raise Refusal(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self.nonces[nonce] = now
        version, actions = PRODUCTS[product]
        if params["Version"] != version:
            raise Refusal(400, "InvalidVersion", "Specified parameter Version is not valid.")
        action = params["Action"]
        if action not in actions:
            raise Refusal(
                404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."
            )
        with self.lock:
            queue = self.script.get(action)
            fault = queue.pop(0) if queue else None
        if fault is not None and not fault.carry_out:
            body = {"RequestId": request_id(), "Code": fault.code or "OK", "Message": fault.message or "OK"}
            return Answer(fault.status, body, fault.delay)
        body = getattr(self, f"_{action}")(params, now)
        if fault is not None:
            if fault.code:
                body = {"RequestId": body["RequestId"], "Code": fault.code, "Message": fault.message}
            return Answer(fault.status, body, fault.delay)
        return Answer(200, body)

    # -- Dysmsapi -----------------------------------------------------------------------------------------
    def _SendSms(self, p: dict[str, str], now: float) -> dict[str, Any]:
        numbers = [n for n in p.get("PhoneNumbers", "").split(",") if n]
        if not numbers or not p.get("SignName") or not p.get("TemplateCode"):
            return isv("isv.INVALID_PARAMETERS", "参数异常")
        if any(not mainland_mobile(n) for n in numbers):
            return isv("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if p["SignName"] not in self.sign_names:
            return isv("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        template = self.sms_templates.get(p["TemplateCode"])
        if template is None:
            return isv("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            values = json.loads(p.get("TemplateParam") or "{}")
        except ValueError:
            return isv("isv.INVALID_JSON_PARAM", "JSON参数不合法, 只接受字符串值")
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return isv("isv.INVALID_JSON_PARAM", "JSON参数不合法, 只接受字符串值")
        if set(re.findall(r"\$\{(\w+)\}", template)) - set(values):
            return isv("isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")
        if any(not 1 <= len(v) <= 35 for v in values.values()):
            return isv("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        day = china_day(now)
        with self.lock:
            if self.account_day_limit is not None:
                today = sum(1 for s in self.sms if china_day(s.at) == day)
                if today >= self.account_day_limit:
                    return isv("isv.DAY_LIMIT_CONTROL", "触发日发送限额")
            for n in numbers:
                mine = sum(
                    1
                    for s in self.sms
                    if s.phone == n and s.sign_name == p["SignName"] and china_day(s.at) == day
                )
                if mine >= self.day_limit:
                    return isv("isv.BUSINESS_LIMIT_CONTROL", f"触发天级流控Permits:{self.day_limit}")
            biz_id = f"{random.randrange(10**14, 10**15)}^0"
            content = f"【{p['SignName']}】" + re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)
            for n in numbers:
                self.sms.append(
                    Sms(n, p["SignName"], p["TemplateCode"], values, content, p.get("OutId", ""), biz_id, now)
                )
        return {"RequestId": request_id(), "Code": "OK", "Message": "OK", "BizId": biz_id}

    def _QuerySendDetails(self, p: dict[str, str], now: float) -> dict[str, Any]:
        try:
            size, page = int(p.get("PageSize", "")), int(p.get("CurrentPage", ""))
            day = datetime.strptime(p.get("SendDate", ""), "%Y%m%d").replace(tzinfo=CHINA)
        except ValueError:
            return isv("isv.INVALID_PARAMETERS", "参数异常")
        if not p.get("PhoneNumber") or not 1 <= size <= 50 or page < 1 or now - day.timestamp() > 31 * 86400:
            return isv("isv.INVALID_PARAMETERS", "参数异常")
        with self.lock:
            found = [
                s
                for s in self.sms
                if s.phone == p["PhoneNumber"]
                and china_day(s.at) == p["SendDate"]
                and (not p.get("BizId") or s.biz_id == p["BizId"])
            ]
        found.sort(key=lambda s: s.at, reverse=True)
        dtos = [
            {
                "PhoneNum": s.phone,
                "SendStatus": s.send_status,
                "ErrCode": s.err_code,
                "TemplateCode": s.template_code,
                "Content": s.content,
                "SendDate": china(s.at),
                "ReceiveDate": china(s.received_at) if s.received_at else "",
                "OutId": s.out_id,
            }
            for s in found[(page - 1) * size : page * size]
        ]
        return {
            "RequestId": request_id(),
            "Code": "OK",
            "Message": "OK",
            "TotalCount": len(found),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": dtos},
        }

    # -- Dyvmsapi -----------------------------------------------------------------------------------------
    def _SingleCallByTts(self, p: dict[str, str], now: float) -> dict[str, Any]:
        called = p.get("CalledNumber", "")
        if not called or not p.get("TtsCode"):
            return isv("isv.INVALID_PARAMETERS", "参数异常")
        if not mainland_mobile(called):
            return isv("isv.MOBILE_NUMBER_ILLEGAL", "号码格式非法")
        show = p.get("CalledShowNumber", "")
        if show and show not in self.show_numbers:
            return isv("isv.DISPLAY_NUMBER_ILLEGAL", "号显不合法")
        template = self.tts_templates.get(p["TtsCode"])
        if template is None:
            return isv("isv.TTS_TEMPLATE_ILLEGAL", "TTS模板不合法")
        try:
            values = json.loads(p.get("TtsParam") or "{}")
            plays = int(p.get("PlayTimes") or "1")
        except ValueError:
            return isv("isv.INVALID_PARAMETERS", "参数异常")
        if not isinstance(values, dict) or not 1 <= plays <= 3:
            return isv("isv.INVALID_PARAMETERS", "参数异常")
        if set(re.findall(r"\$\{(\w+)\}", template)) - set(values):
            return isv("isv.TEMPLATE_MISSING_PARAMETERS", "文本转语音模板参数缺失")
        if any(re.search(r"https?:|www\.", str(v)) for v in values.values()):
            return isv("isv.PARAM_NOT_SUPPORT_URL", "变量不支持URL参数")
        with self.lock:
            for window, permits, name in CALL_LIMITS:
                if sum(1 for c in self.calls if c.called == called and c.at > now - window) >= permits:
                    return isv("isv.BUSINESS_LIMIT_CONTROL", f"触发{name}流控Permits:{permits}")
            call_id = f"{random.randrange(10**11, 10**12)}^{random.randrange(10**10, 10**11)}"
            self.calls.append(
                Call(called, show, p["TtsCode"], values, plays, p.get("OutId", ""), call_id, now)
            )
        return {"RequestId": request_id(), "Code": "OK", "Message": "OK", "CallId": call_id}

    # -- what Aliyun pushes later -------------------------------------------------------------------------
    def deliver(
        self, out_id: str, success: bool = True, err_code: str = "", after: float = 3.0
    ) -> dict[str, Any]:
        """The carrier's report for an SMS: QuerySendDetails shows it from now on; returns the SmsReport
        record Aliyun pushes for it."""
        with self.lock:
            s = next(s for s in self.sms if s.out_id == out_id)
            s.send_status = 3 if success else 2
            s.err_code = err_code or ("DELIVERED" if success else "MK:0001")
            s.received_at = float(int(s.at + after))
        return {
            "phone_number": s.phone,
            "send_time": china(s.at),
            "report_time": china(s.received_at),
            "success": success,
            "err_code": s.err_code,
            "err_msg": "用户接收成功" if success else "用户接收失败",
            "sms_size": "1",
            "biz_id": s.biz_id,
            "out_id": s.out_id,
        }

    def end_call(self, out_id: str, status_code: str = "200000", duration: int = 18) -> dict[str, Any]:
        """How a call ended; returns the VoiceReport record Aliyun pushes for it."""
        with self.lock:
            c = next(c for c in self.calls if c.out_id == out_id)
            c.status_code = status_code
            answered = status_code in ("200000", "200001")
            start = float(int(c.at + 6))
            c.ended_at = start + (duration if answered else 30)
        return {
            "status_code": status_code,
            "callee": c.called,
            "ring_time": china(c.at + 2),
            "duration": str(duration if answered else 0),
            "voice_type": "voice",
            "originate_time": china(c.at),
            "b_start_time": china(start) if answered else "",
            "end_time": china(c.ended_at),
            "call_id": c.call_id,
            "caller": c.show_number or "05710000****",
            "status_msg": CALL_STATUS.get(status_code, "执行完成"),
            "out_id": c.out_id,
            "toll_type": "LOCAL",
        }

    def push(self, url: str, records: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """An HTTP batch push as Aliyun makes it: a JSON array, no signature; the answer must be HTTP 200 with
        a numeric `code`, else Aliyun pushes again later."""
        data = json.dumps(records, ensure_ascii=False).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())


def isv(code: str, message: str) -> dict[str, Any]:
    return {"RequestId": request_id(), "Code": code, "Message": message}


def request_id() -> str:
    return str(uuid.uuid4()).upper()


@dataclass
class Pushed:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ReportSink:
    """Where Aliyun's pushes land (the gateway's receipt URL, stood in for): keeps each body and answers as
    Aliyun wants, {"code": 0, "msg": "接收成功"}."""

    pushed: list[Pushed] = field(default_factory=list)

    def __post_init__(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                sink.pushed.append(Pushed(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                data = json.dumps({"code": 0, "msg": "接收成功"}, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> ReportSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
