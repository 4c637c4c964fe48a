"""The notifier's HTTP face: acknowledgement links, push enrolment and receipts, the resident app's files.

Opening a link never acknowledges by itself: mail scanners and chat previews fetch links, so GET shows a
page with one button and only the POST acknowledges. An SMS's short link (`/s/{code}`) only redirects to
that page; an unknown code and an expired one get the same 404, and each client may try so many a minute.
Tokens are the authority here (signed, expiring, bound to one alarm and one person); the API's sign-in is
not needed to acknowledge from a notification.
"""

from __future__ import annotations

import base64
import hashlib
import html
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.errors import AckPending, EndpointRefused, TokenError
from gateway.http.api.models import errors
from gateway.http.api.throttle import ClientRate
from gateway.notify.face import NotifierFace
from gateway.subscription import Subscription

WEB = Path(__file__).resolve().parent / "web"
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "homes.js": "text/javascript; charset=utf-8",
    "orders.js": "text/javascript; charset=utf-8",
    "homeassistant.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "console.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "console-prefs.js": "text/javascript; charset=utf-8",
    "console-orders.js": "text/javascript; charset=utf-8",
    "prefs.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "sw.js": "text/javascript; charset=utf-8",
    "manifest.webmanifest": "application/manifest+json",
    "icon.svg": "image/svg+xml",
}


def static_file(name: str) -> FileResponse:
    """One of the pages' files (gateway/http/web), by name from the fixed list: nothing else is reachable."""
    if name not in STATIC:
        raise HTTPException(status_code=404)
    headers = {"Service-Worker-Allowed": "/"} if name == "sw.js" else {}
    return FileResponse(WEB / name, media_type=STATIC[name], headers=headers)


def _b64_len(value: str, size: int, name: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError as exc:
        raise ValueError(f"{name} is not base64url") from exc
    if len(raw) != size:
        raise ValueError(f"{name} must be {size} bytes, not {len(raw)}")
    return value


class _Keys(BaseModel):
    model_config = ConfigDict(extra="ignore")
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)

    @field_validator("p256dh")
    @classmethod
    def _point(cls, v: str) -> str:
        return _b64_len(v, 65, "p256dh")

    @field_validator("auth")
    @classmethod
    def _secret(cls, v: str) -> str:
        return _b64_len(v, 16, "auth")


class PushSubscriptionIn(BaseModel):
    """A browser's `PushSubscription.toJSON()`, as the enrolment link and the signed-in app both send it."""

    model_config = ConfigDict(extra="ignore")
    endpoint: str = Field(max_length=2000)
    keys: _Keys

    def for_person(self, site: str, person: str, now: float, agent: str) -> Subscription:
        """The subscription, its id the endpoint's hash: the same phone enrolling again replaces itself."""
        return Subscription(
            id=hashlib.sha256(self.endpoint.encode()).hexdigest()[:32],
            site=site,
            person=person,
            endpoint=self.endpoint,
            p256dh=self.keys.p256dh,
            auth=self.keys.auth,
            created=now,
            agent=agent[:300],
        )


class Enrolment(BaseModel):
    token: str = Field(max_length=1000)
    subscription: PushSubscriptionIn
    agent: str = Field("", max_length=300)


class Receipt(BaseModel):
    delivery: str = Field(max_length=1000)
    token: str = Field(max_length=1000)


def _page(title: str, body: str, status: int = 200, retry_after: float | None = None) -> HTMLResponse:
    headers = {"Retry-After": str(int(retry_after) + 1)} if retry_after is not None else None
    return HTMLResponse(
        f"""<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>
<style>body{{font:18px system-ui,sans-serif;margin:2em auto;max-width:32em;padding:0 1em}}
button{{font-size:1.3em;padding:.8em 1.6em;border-radius:.5em;border:0;background:#c62828;color:#fff}}</style>
</head><body>{body}</body></html>""",
        status_code=status,
        headers=headers,
    )


SHORT_CODE_MAX = 32
NO_SUCH_LINK = "<p>链接无效或已过期 / This link is not valid or has expired.</p>"


def notify_router(notifier: NotifierFace, short_rate: ClientRate | None = None) -> APIRouter:
    router = APIRouter(responses=errors(403, 404, 413))
    rate = short_rate or ClientRate()

    def bad_link(exc: TokenError) -> HTTPException:
        return HTTPException(status_code=403, detail=str(exc))

    @router.get("/ack/{token}", include_in_schema=False)
    def ack_page(token: str) -> HTMLResponse:
        try:
            claims = notifier.signer.verify(token, "ack", now=notifier.clock())
        except TokenError as exc:
            return _page("Link not valid", f"<p>链接无效 / {html.escape(str(exc))}</p>", 403)
        return _page(
            "Acknowledge",
            f"""<h1>确认报警 / Acknowledge alarm</h1><p><code>{html.escape(claims.alarm_id)}</code></p>
<form method="post"><button type="submit">我已知晓，正在处理 / I am on it</button></form>""",
        )

    @router.get("/s/{code}", include_in_schema=False)
    async def short_link(code: str, request: Request) -> Response:
        """An SMS's short link: 302 to the acknowledgement page it stands for (which still wants a press).
        Unknown and expired codes answer alike, body and path: the same query runs for both."""
        wait = rate.wait(request.client.host if request.client else "", notifier.clock())
        if wait > 0:
            return _page("Too many requests", "<p>请稍后再试 / Try again shortly.</p>", 429, wait)
        links = notifier.short_links
        url = None
        if links is not None and len(code) <= SHORT_CODE_MAX:
            url = await links.target(code)
        if url is None:
            return _page("Link not valid", NO_SUCH_LINK, 404)
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})

    @router.post("/ack/{token}", include_in_schema=False)
    async def ack_form(token: str) -> HTMLResponse:
        try:
            transitions = await notifier.acknowledge_link(token)
        except TokenError as exc:
            return _page("Link not valid", f"<p>链接无效 / {html.escape(str(exc))}</p>", 403)
        done = (
            "已确认，谢谢 / Acknowledged, thank you."
            if transitions
            else "已由他人确认或已解除 / Already handled."
        )
        return _page("Acknowledged", f"<h1>{done}</h1>")

    @router.post("/api/v1/ack/{token}", tags=["notifications"])
    async def acknowledge(token: str) -> JSONResponse:
        """Acknowledge the alarm a notification link is for (the push notification's action button)."""
        try:
            claims = notifier.signer.verify(token, "ack", now=notifier.clock())
            transitions = await notifier.acknowledge(claims.alarm_id, claims.recipient)
        except TokenError as exc:
            raise bad_link(exc) from exc
        except AckPending:  # a district's API replica: taken by the partition stream, applied shortly
            return JSONResponse({"alarm_id": claims.alarm_id, "acknowledged": True}, status_code=202)
        return JSONResponse({"alarm_id": claims.alarm_id, "acknowledged": bool(transitions)})

    @router.get("/api/v1/push/key", tags=["notifications"])
    def push_key() -> JSONResponse:
        """The VAPID public key a browser subscribes with."""
        key = notifier.subscribe_key
        if key is None:
            raise HTTPException(status_code=404, detail="web push is off")
        return JSONResponse({"publicKey": key})

    @router.post("/api/v1/push/subscriptions", status_code=201, tags=["notifications"])
    async def enrol(body: Enrolment) -> JSONResponse:
        """Register a phone's push subscription for the person an enrolment link was made for."""
        try:
            claims = notifier.signer.verify(body.token, "enroll", now=notifier.clock())
        except TokenError as exc:
            raise bad_link(exc) from exc
        site, _, person = claims.recipient.partition("/")
        sub = body.subscription.for_person(site, person, notifier.clock(), body.agent)
        try:
            await notifier.subscribe(sub)
        except EndpointRefused as exc:
            raise HTTPException(status_code=422, detail=f"push endpoint refused: {exc}") from exc
        return JSONResponse({"id": sub.id, "person": person}, status_code=201)

    @router.post("/api/v1/push/receipt", status_code=204, tags=["notifications"])
    def receipt(body: Receipt) -> Response:
        """The service worker saying a push was shown: delivered, not only accepted by the push service."""
        try:
            claims = notifier.signer.verify(body.token, "ack", now=notifier.clock())
        except TokenError as exc:
            raise bad_link(exc) from exc
        if not notifier.confirm(body.delivery, claims.recipient, claims.alarm_id):
            raise HTTPException(status_code=404, detail="no such delivery waiting for a receipt")
        return Response(status_code=204)

    @router.post("/notify/receipts/{channel}/{key}", include_in_schema=False)
    async def provider_receipt(channel: str, key: str, request: Request) -> Response:
        """A provider telling what became of a message (an SMS delivered, a call answered, a WeChat message
        shown). The URL's key proves the caller was given it (`guardian receipt-urls` prints them); the
        channel verifies the provider's own signature where it has one. Answered fast: providers retry a
        receipt they got no quick answer for."""
        if not notifier.signer.callback_key_ok(channel, key) or channel not in notifier.channels:
            raise HTTPException(status_code=404, detail="no such receipt address")
        headers = {k.lower(): v for k, v in request.headers.items()}
        headers["x-query"] = request.url.query
        try:
            content_type, reply = await notifier.receipts(channel, await request.body(), headers)
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=f"not a receipt: {exc}") from exc
        return Response(reply, media_type=content_type)

    @router.get("/app/", include_in_schema=False)
    @router.get("/app/{name}", include_in_schema=False)
    def app_file(name: str = "index.html") -> FileResponse:
        return static_file(name)

    return router
