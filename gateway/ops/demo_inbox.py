"""The demo's people's phones: a local inbox that receives what the gateway sends them, and a page to read it.

A demo whose registry names no addresses would raise alarms that reach nobody (and, rightly, a standing
SYS-UNREACHED for each). So the demo gives every person in its estate an apprise `json://` address on this
inbox: the gateway delivers to it exactly as it would to an SMS gateway or a bot, through the same outbox,
retries and circuits, and what shows as notified is what arrived here. The page at `/` lists the newest
messages, one person's at `/to/{person}`; it reloads itself.
"""

from __future__ import annotations

import html
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

KEEP = 500
"""Messages kept (the oldest go first): a page a person reads, not a store."""
MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class Received:
    at: float
    person: str
    title: str
    body: str
    kind: str


def address(port: int, person: str) -> str:
    """The apprise URL that delivers to `person`'s inbox (apprise's json:// posts title, message, type)."""
    return f"json://127.0.0.1:{port}/inbox/{person}"


class Inbox:
    def __init__(self) -> None:
        self.messages: deque[Received] = deque(maxlen=KEEP)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/inbox/{person}", self.receive, methods=["POST"]),
                Route("/", self.page, methods=["GET"]),
                Route("/to/{person}", self.page, methods=["GET"]),
                Route("/messages.json", self.listing, methods=["GET"]),
            ]
        )

    async def receive(self, request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return JSONResponse({"error": "too large"}, status_code=413)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            return JSONResponse({"error": "not JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "not a JSON object"}, status_code=400)
        self.messages.append(
            Received(
                at=time.time(),
                person=request.path_params["person"],
                title=str(body.get("title", "")),
                body=str(body.get("message", "")),
                kind=str(body.get("type", "")),
            )
        )
        return JSONResponse({"ok": True})

    async def listing(self, request: Request) -> Response:
        return JSONResponse([_plain(m) for m in self.messages])

    async def page(self, request: Request) -> Response:
        person = request.path_params.get("person")
        shown = [m for m in reversed(self.messages) if person is None or m.person == person][:200]
        rows = "\n".join(
            f"<tr><td>{time.strftime('%H:%M:%S', time.localtime(m.at))}</td>"
            f'<td><a href="/to/{html.escape(m.person)}">{html.escape(m.person)}</a></td>'
            f"<td><b>{html.escape(m.title)}</b><br>{html.escape(m.body).replace(chr(10), '<br>')}</td></tr>"
            for m in shown
        )
        who = f" for {html.escape(person)}" if person else ""
        return HTMLResponse(
            f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><meta name="viewport" content="width=device-width">
<title>Demo inbox{who}</title>
<style>body{{font:15px system-ui,sans-serif;margin:1em}}td{{vertical-align:top;padding:.3em .6em;
border-bottom:1px solid #ddd}}</style></head><body>
<h1>What the demo's people received{who}</h1>
<p>{len(shown)} message(s); newest first; <a href="/">everyone</a>.</p>
<table>{rows}</table></body></html>"""
        )


def _plain(m: Received) -> dict[str, Any]:
    return {"at": m.at, "person": m.person, "title": m.title, "message": m.body, "type": m.kind}
